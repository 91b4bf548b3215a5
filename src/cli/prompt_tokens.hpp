// Shared by run and chat: chat-template rendering to token ids, and the speed report line.
#pragma once

#include <vector>

#include "runtime/generate.hpp"
#include "runtime/loaded_model.hpp"

namespace pagoda::cli {

// Renders messages with the model's template and tokenizes with special tokens parsed; BOS is
// prepended only when the model wants one and the template did not already write it.
std::vector<int32_t> chat_prompt_tokens(const LoadedModel& lm, const std::vector<ChatMessage>& messages);

void print_speed_report(const GenerationResult& r);
// Peak resident memory of the process next to the model file and KV cache sizes.
void print_memory_report(const LoadedModel& lm);

}  // namespace pagoda::cli
