// An error a client caused (or a refusal the server chose), carried as an exception from wherever
// it is found to the one place that writes it as an OpenAI error object with its HTTP status:
// {"error": {"message", "type", "param", "code"}}. It never carries internal state.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace pagoda::server {

struct ApiError : std::runtime_error {
  int status;
  std::string type;
  std::string param;  // the offending request field, "" when none
  std::string code;   // "" when none

  ApiError(int status_, std::string message, std::string type_ = "invalid_request_error", std::string param_ = "",
           std::string code_ = "")
      : std::runtime_error(std::move(message)), status(status_), type(std::move(type_)), param(std::move(param_)),
        code(std::move(code_)) {}
};

// 400 invalid_request_error naming the field.
template <typename... Args>
[[noreturn]] void bad_param(const std::string& param, fmt::format_string<Args...> f, Args&&... args) {
  throw ApiError(400, fmt::format(f, std::forward<Args>(args)...), "invalid_request_error", param);
}

// The JSON text of an error body (defined with the other JSON code).
std::string api_error_body(const ApiError& e);

}  // namespace pagoda::server
