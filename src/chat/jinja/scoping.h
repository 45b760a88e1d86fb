// Jinja2's compile-time scoping, reproduced for the interpreter's dynamic scopes.
//
// Jinja2 compiles every frame (the template, a for-loop body, a macro, a filter block, ...) to
// Python locals: a name assigned in a frame is a local of that frame everywhere in it, including
// in nested frames and before the assignment runs. A name first *assigned* (not read) in a frame
// that no enclosing frame knows starts as "missing", so reading it earlier from a nested frame
// gives Undefined even when the render context has a variable of that name:
//
//   {% for m in messages %}{{ tools }}{% endfor %}{% set tools = [] %}   -> prints nothing
//
// analyze_scopes() finds these names per frame; the interpreter binds them to Undefined when it
// enters the frame, which makes its scope-chain lookups resolve exactly like Jinja2's.
#pragma once

#include <string>
#include <vector>

#include "chat/jinja/ast.h"

namespace ember::jinja {

// Fills Stmt::frame_undefined / Stmt::else_frame_undefined of every frame statement and
// returns the names for the template's top-level frame.
std::vector<std::string> analyze_scopes(Body& body);

}  // namespace ember::jinja
