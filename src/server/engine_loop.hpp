// The engine thread: the one thread that owns the Engine. HTTP threads submit requests and
// cancellations through a mutex+condvar command queue; results come back through a per-request
// RequestChannel whose notify callback hands control to the connection's own executor. Parallel
// sampling (n > 1) runs the first choice's prefill alone, then admits its siblings, so they find
// the prompt's blocks in the prefix cache instead of recomputing them. It does not parse or
// format anything: it moves token events. A step's notify calls can be handed to another thread
// in one batch (notify_via), so the engine thread, which the next step waits on, does not pay
// for waking hundreds of connections.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "runtime/engine.hpp"
#include "server/metrics.hpp"

namespace pagoda::server {

// One event for one choice of a request.
struct ChannelItem {
  int32_t index = 0;  // choice index
  EngineEvent event;
  std::string error;  // non-empty: this choice failed (the request should fail)
  int error_status = 500;  // 400: the engine refused the request; 500: it failed while running
  bool failed() const { return !error.empty(); }
};

// Engine thread -> one HTTP request. notify() is called (from the engine thread) after items were
// pushed and nobody has taken them yet; it must not block.
class RequestChannel {
 public:
  explicit RequestChannel(std::function<void()> notify) : notify_(std::move(notify)) {}
  void push(ChannelItem item);  // push_quiet, then notify() when it says so
  // Adds an item; true when the caller must call notify() (nobody was told of pending items yet).
  bool push_quiet(ChannelItem item);
  void notify() { notify_(); }
  std::vector<ChannelItem> take();

 private:
  std::mutex mu_;
  std::vector<ChannelItem> items_;
  bool notified_ = false;
  std::function<void()> notify_;
};

struct SubmitRequest {
  std::vector<std::vector<int32_t>> prompts;
  int32_t n = 1;  // choices per prompt; choice index = prompt * n + j; with a seed, choice i uses seed + i
  GenerationParams gen;
  EngineRequestOptions options;
  std::shared_ptr<RequestChannel> channel;
};

enum class SubmitResult : uint8_t { SUBMIT_RESULT_OK, SUBMIT_RESULT_BUSY, SUBMIT_RESULT_DRAINING };

class EngineLoop {
 public:
  // max_outstanding: sequences accepted but not finished (running + waiting) before submit says busy.
  EngineLoop(Engine& engine, Metrics& metrics, int32_t max_outstanding);
  ~EngineLoop();

  SubmitResult submit(SubmitRequest req, uint64_t* key);
  // Runs each step's channel notifications as one task through `post` (e.g. onto the HTTP I/O
  // threads) instead of on the engine thread; nullptr: on the engine thread. When this returns,
  // the previous `post` is no longer being called.
  using Poster = std::function<void(std::function<void()>)>;
  void notify_via(Poster post);
  void cancel(uint64_t key);  // frees the request's KV blocks on the engine thread's next turn
  // Refuses new requests from now on; running ones go on.
  void drain_begin() { draining_ = true; }
  int32_t outstanding() const { return outstanding_.load(); }
  // Finishes the queued work, then stops the thread.
  void stop();

 private:
  struct Command {
    uint64_t key = 0;
    bool cancel = false;
    SubmitRequest req;
    double arrival = 0;
  };
  struct Seq {
    uint64_t key;
    int32_t index;
    double arrival, last = 0;
    bool first = true;
  };
  struct Pending {  // a sibling choice waiting for its leader's prefill
    int32_t index;
    std::vector<int32_t> prompt;
    GenerationParams gen;
  };
  struct Group {
    std::shared_ptr<RequestChannel> channel;
    EngineRequestOptions options;
    double arrival = 0;
    std::vector<uint64_t> live;                          // engine ids
    std::map<uint64_t, std::vector<Pending>> siblings;   // leader engine id -> waiting siblings
    int32_t remaining = 0;                               // choices not finished
  };

  void run();
  void apply(Command& c);
  uint64_t add_seq(uint64_t key, Group& g, int32_t index, std::vector<int32_t> prompt, const GenerationParams& gen);
  void on_event(EngineEvent& ev, double now);
  void notify_flush();
  void seq_done(uint64_t engine_id);
  void group_end(uint64_t key, const std::string& error, int status);  // error "" = cancelled by the client
  void group_fail(uint64_t key, const std::string& error, int status = 500);
  void group_cancel(uint64_t key);
  void release_siblings(Group& g, uint64_t leader);

  Engine& engine_;
  Metrics& metrics_;
  const int32_t max_outstanding_;
  std::atomic<int32_t> outstanding_{0};
  std::atomic<bool> draining_{false};

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Command> commands_;
  bool stopping_ = false;
  uint64_t next_key_ = 1;

  std::mutex poster_mu_;  // held while the poster runs, so notify_via can replace it safely
  Poster poster_;

  // Engine-thread state only.
  std::unordered_map<uint64_t, Group> groups_;
  std::unordered_map<uint64_t, Seq> seqs_;
  uint64_t next_engine_id_ = 1;
  int32_t deferred_ = 0;
  LoopSeconds loop_seconds_;
  StepObservations observed_;                               // this step's, recorded in one go
  std::vector<std::shared_ptr<RequestChannel>> to_notify_;  // this step's channels with news

  std::thread thread_;
};

}  // namespace pagoda::server
