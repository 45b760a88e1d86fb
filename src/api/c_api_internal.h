// Pieces of the C API (include/ember/ember.h) shared by its implementation files.
#pragma once

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "ember/ember.h"
#include "ember/engine.h"
#include "ember/model.h"
#include "ember/status.h"

struct ember_engine {
  std::unique_ptr<ember::Engine> engine;
};

struct ember_model {
  std::shared_ptr<const ember::Model> model;
  // Kept here so that the C getters can return pointers owned by the model.
  std::string description;
  std::string architecture;
  std::string chat_template;
};

namespace ember::c_api {

// Records the message for ember_last_error (per thread) and returns the status code.
ember_status fail(const Status& s);
ember_status fail(ember_status code, const char* message);

// A malloc'd NUL-terminated copy of `s` for the char** outputs (freed with ember_free); nullptr
// when out of memory.
inline char* copy_string(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p != nullptr) std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

}  // namespace ember::c_api
