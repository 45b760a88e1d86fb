// Jinja2's tests (`x is defined`, `x is divisibleby 3`, `x is eq y`, ...), jinja2/tests.py.
#include <algorithm>
#include <string_view>

#include "chat/jinja/builtins.h"
#include "chat/jinja/interpreter.h"
#include "chat/jinja/ops.h"
#include "chat/jinja/unicode.h"

namespace ember::jinja {

namespace {

Result<Value> one_arg(std::string_view test, CallArgs& args, std::string_view param) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args(test, args, {param}));
  if (!a[0]) {
    return invalid_argument(std::string(test) + "() missing 1 required positional argument: '" +
                            std::string(param) + "'");
  }
  return std::move(*a[0]);
}

Status no_args(std::string_view test, const CallArgs& args) {
  if (!args.args.empty() || !args.kwargs.empty()) {
    return invalid_argument(std::string(test) + "() takes 1 positional argument but " +
                            std::to_string(1 + args.args.size() + args.kwargs.size()) +
                            " were given");
  }
  return Status::Ok();
}

#define SIMPLE_TEST(fn, name, expr)                               \
  Result<bool> fn(Interpreter&, const Value& v, CallArgs& args) { \
    EMBER_RETURN_IF_ERROR(no_args(name, args));                   \
    return (expr);                                                \
  }

SIMPLE_TEST(t_defined, "test_defined", !v.is_undefined())
SIMPLE_TEST(t_undefined, "test_undefined", v.is_undefined())
SIMPLE_TEST(t_none, "test_none", v.is_none())
SIMPLE_TEST(t_boolean, "test_boolean", v.is_bool())
SIMPLE_TEST(t_false, "test_false", v.is_bool() && !v.as_bool())
SIMPLE_TEST(t_true, "test_true", v.is_bool() && v.as_bool())
SIMPLE_TEST(t_integer, "test_integer", v.is_int())
SIMPLE_TEST(t_float, "test_float", v.is_float())
SIMPLE_TEST(t_string, "test_string", v.is_string())
SIMPLE_TEST(t_mapping, "test_mapping", v.is_dict())
SIMPLE_TEST(t_number, "test_number", v.is_number())
SIMPLE_TEST(t_sequence, "test_sequence",
            v.is_string() || v.is_list() || v.is_dict() || v.is_undefined())
SIMPLE_TEST(t_iterable, "test_iterable",
            v.is_string() || v.is_list() || v.is_dict() || v.is_undefined())
SIMPLE_TEST(t_callable, "test_callable",
            v.is_undefined() || (v.is_object() && v.object().callable()))
SIMPLE_TEST(t_escaped, "test_escaped", v.is_markup())
SIMPLE_TEST(t_lower, "test_lower", py_islower(py_str(v)))
SIMPLE_TEST(t_upper, "test_upper", py_isupper(py_str(v)))

#undef SIMPLE_TEST

Result<bool> parity(const Value& v, CallArgs& args, std::string_view name, int64_t want) {
  EMBER_RETURN_IF_ERROR(no_args(name, args));
  EMBER_ASSIGN_OR_RETURN(Value m, binary_op(BinOp::kMod, v, Value::integer(2)));
  return py_equals(m, Value::integer(want));
}

Result<bool> t_odd(Interpreter&, const Value& v, CallArgs& args) {
  return parity(v, args, "test_odd", 1);
}
Result<bool> t_even(Interpreter&, const Value& v, CallArgs& args) {
  return parity(v, args, "test_even", 0);
}

Result<bool> t_divisibleby(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(Value num, one_arg("test_divisibleby", args, "num"));
  EMBER_ASSIGN_OR_RETURN(Value m, binary_op(BinOp::kMod, v, num));
  return py_equals(m, Value::integer(0));
}

Result<bool> t_sameas(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(Value other, one_arg("test_sameas", args, "other"));
  return v.identical(other);
}

Result<bool> t_in(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(Value seq, one_arg("test_in", args, "seq"));
  return contains(seq, v);
}

Result<bool> t_filter(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_RETURN_IF_ERROR(no_args("test_filter", args));
  return v.is_string() && find_filter(v.str()) != nullptr;
}

Result<bool> t_test(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_RETURN_IF_ERROR(no_args("test_test", args));
  return v.is_string() && find_test(v.str()) != nullptr;
}

Result<bool> t_eq(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(Value b, one_arg("eq", args, "b"));
  return py_equals(v, b);
}

Result<bool> t_ne(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(Value b, one_arg("ne", args, "b"));
  return !py_equals(v, b);
}

template <CompareOp Op>
Result<bool> t_order(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(Value b, one_arg("compare", args, "b"));
  return py_compare(v, Op, b);
}

struct TestEntry {
  std::string_view name;
  TestFn fn;
};

constexpr TestEntry kTests[] = {
    {"odd", t_odd},
    {"even", t_even},
    {"divisibleby", t_divisibleby},
    {"defined", t_defined},
    {"undefined", t_undefined},
    {"filter", t_filter},
    {"test", t_test},
    {"none", t_none},
    {"boolean", t_boolean},
    {"false", t_false},
    {"true", t_true},
    {"integer", t_integer},
    {"float", t_float},
    {"lower", t_lower},
    {"upper", t_upper},
    {"string", t_string},
    {"mapping", t_mapping},
    {"number", t_number},
    {"sequence", t_sequence},
    {"iterable", t_iterable},
    {"callable", t_callable},
    {"sameas", t_sameas},
    {"escaped", t_escaped},
    {"in", t_in},
    {"==", t_eq},
    {"eq", t_eq},
    {"equalto", t_eq},
    {"!=", t_ne},
    {"ne", t_ne},
    {">", t_order<CompareOp::kGt>},
    {"gt", t_order<CompareOp::kGt>},
    {"greaterthan", t_order<CompareOp::kGt>},
    {">=", t_order<CompareOp::kGe>},
    {"ge", t_order<CompareOp::kGe>},
    {"<", t_order<CompareOp::kLt>},
    {"lt", t_order<CompareOp::kLt>},
    {"lessthan", t_order<CompareOp::kLt>},
    {"<=", t_order<CompareOp::kLe>},
    {"le", t_order<CompareOp::kLe>},
};

}  // namespace

TestFn find_test(std::string_view name) {
  for (const auto& t : kTests) {
    if (t.name == name) return t.fn;
  }
  return nullptr;
}

}  // namespace ember::jinja
