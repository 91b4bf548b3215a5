// Copies a named tensor of a safetensors file into a vector, for tests reading golden fixtures.
// A missing tensor or a size that does not match T fails the current test and returns {}.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "io/safetensors.hpp"

namespace pagoda::test {

template <typename T>
std::vector<T> tensor_read(const SafetensorsFile& file, const std::string& name) {
  const TensorDesc* t = file.find(name);
  EXPECT_NE(t, nullptr) << "fixture has no tensor " << name;
  if (!t) return {};
  EXPECT_EQ(t->data.size(), static_cast<size_t>(t->numel()) * sizeof(T)) << name;
  if (t->data.size() != static_cast<size_t>(t->numel()) * sizeof(T)) return {};
  std::vector<T> v(static_cast<size_t>(t->numel()));
  std::memcpy(v.data(), t->data.data(), v.size() * sizeof(T));
  return v;
}

}  // namespace pagoda::test
