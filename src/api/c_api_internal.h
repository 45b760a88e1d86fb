// Pieces of the C API (include/ember/ember.h) shared by its implementation files.
#pragma once

#include <memory>

#include "ember/ember.h"
#include "ember/engine.h"
#include "ember/status.h"

struct ember_engine {
  std::unique_ptr<ember::Engine> engine;
};

namespace ember::c_api {

// Records the message for ember_last_error (per thread) and returns the status code.
ember_status fail(const Status& s);
ember_status fail(ember_status code, const char* message);

}  // namespace ember::c_api
