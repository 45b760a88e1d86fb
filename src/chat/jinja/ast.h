// Syntax tree of a parsed Jinja template, mirroring Jinja2's nodes (jinja2/nodes.py) for the
// statements and expressions ember supports.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "chat/jinja/lexer.h"
#include "chat/jinja/value.h"

namespace ember::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class ExprKind : uint8_t {
  kConst,    // value
  kName,     // name
  kNsRef,    // name.attr as an assignment target (namespace attribute)
  kGetattr,  // children[0].name
  kGetitem,  // children[0][children[1]]
  kSlice,    // children: start, stop, step (each may be null); only inside kGetitem
  kCall,     // children[0](call)
  kFilter,   // children[0] | name(call); children[0] null inside filter blocks / block sets
  kTest,     // children[0] is name(call)
  kNeg,      // -children[0]
  kPos,      // +children[0]
  kNot,      // not children[0]
  kAnd,      // children[0] and children[1]
  kOr,       // children[0] or children[1]
  kBinary,   // children[0] bin_op children[1]
  kConcat,   // children joined with ~
  kCompare,  // children[0] cmp_ops[0] children[1] cmp_ops[1] children[2] ...
  kCond,     // children[1] if children[0] else children[2] (children[2] may be null)
  kList,     // [children...]
  kTuple,    // (children...)
  kDict,     // {children[0]: children[1], ...}
};

enum class BinOp : uint8_t { kAdd, kSub, kMul, kDiv, kFloorDiv, kMod, kPow };
enum class CmpOp : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn };

struct Keyword {
  std::string name;
  ExprPtr value;
};

struct CallSpec {
  std::vector<ExprPtr> args;
  std::vector<Keyword> kwargs;
  ExprPtr dyn_args;    // *expr
  ExprPtr dyn_kwargs;  // **expr
};

struct Expr {
  ExprKind kind = ExprKind::kConst;
  SourcePos pos;
  int height = 1;  // of the subtree rooted here
  Value value;
  std::string name;
  std::string attr;  // kNsRef
  BinOp bin_op = BinOp::kAdd;
  std::vector<CmpOp> cmp_ops;
  std::vector<ExprPtr> children;
  CallSpec call;
};

enum class StmtKind : uint8_t {
  kText,         // text
  kOutput,       // {{ expr }}
  kIf,           // branches (test, body), else_body
  kFor,          // target in iter [if test] [recursive]: body, else_body
  kSet,          // target = expr
  kSetBlock,     // {% set target [| filter] %}body{% endset %}
  kMacro,        // {% macro name(params) %}body
  kCallBlock,    // {% call [(params)] expr %}body
  kFilterBlock,  // {% filter f %}body
  kBreak,
  kContinue,
  kWith,        // {% with a = x, ... %}body
  kBlock,       // {% block name %}body (rendered in place)
  kGeneration,  // {% generation %}body (transformers' assistant-mask marker; renders body)
};

struct MacroSignature {
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // for the last defaults.size() params
  bool catch_varargs = false;     // the body reads `varargs`
  bool catch_kwargs = false;      // the body reads `kwargs`
  bool uses_caller = false;       // the body reads `caller`
};

struct Stmt {
  StmtKind kind = StmtKind::kText;
  SourcePos pos;
  std::string text;  // kText; macro/block name
  ExprPtr expr;      // kOutput, kFor iterable, kSet value, kCallBlock call, filters
  ExprPtr target;    // kFor, kSet, kSetBlock
  ExprPtr test;      // kFor filter condition
  bool recursive = false;
  std::vector<std::pair<ExprPtr, Body>> branches;  // kIf
  Body body;
  Body else_body;
  MacroSignature signature;                                   // kMacro, kCallBlock
  std::vector<std::pair<ExprPtr, ExprPtr>> with_assignments;  // kWith
  // Names that start out undefined in the frame this statement opens (see scoping.h); for kFor
  // the body frame, else_frame_undefined for its else block.
  std::vector<std::string> frame_undefined;
  std::vector<std::string> else_frame_undefined;
};

}  // namespace ember::jinja
