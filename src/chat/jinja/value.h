// The Jinja interpreter's value model: Python's types as Jinja2 templates see them.
//
// A Value is one of: Undefined (Jinja2's default Undefined, carrying the message an error about
// it would print), None, bool, int (64-bit), float, str (UTF-8; a `markup` bit marks
// markupsafe.Markup strings from `|safe`), list/tuple, dict (insertion-ordered, any hashable
// key) or an Object (namespace, macro, loop, bound method, ...).
//
// Lists, dicts and objects have reference semantics like Python's: copying a Value copies the
// reference, so `{% set b = a %}{{ b.append(1) }}` changes `a` too. Strings are immutable and
// shared.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ember/status.h"

namespace ember::jinja {

class Value;
class Interpreter;
class IteratorObject;

struct ListData {
  std::vector<Value> items;
  bool tuple = false;  // Python tuple: immutable, prints as (a, b)
  // Named-tuple field names (groupby's (grouper, list)); empty for plain lists and tuples.
  std::vector<std::string> fields;
};

// Positional and keyword arguments of a call, in source order.
struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;

  // Removes and returns the keyword argument `name`, if given.
  std::optional<Value> take_kwarg(std::string_view name);
};

// Runtime objects that are not plain data: namespaces, macros, loop contexts, bound methods,
// builtin functions, cyclers, joiners.
class Object {
 public:
  virtual ~Object() = default;
  // Python class name as shown in messages, e.g. "Namespace", "Macro", "LoopContext".
  virtual std::string type_name() const = 0;
  // What object_type_repr() prints, e.g. "jinja2.utils.Namespace object".
  virtual std::string type_repr() const { return type_name() + " object"; }
  virtual std::string repr() const;
  virtual bool callable() const { return false; }
  virtual Result<Value> call(Interpreter& interp, CallArgs args);
  // Attribute read. nullopt: the object has no such attribute.
  virtual Result<std::optional<Value>> get_attr(Interpreter& interp, std::string_view name);
  // Attribute write ({% set ns.x = ... %}); only namespaces accept it.
  virtual Status set_attr(std::string_view name, Value value);
  virtual bool is_namespace() const { return false; }
  // Non-null for one-shot iterators (generators).
  virtual IteratorObject* as_iterator() { return nullptr; }
};

class DictData;
class IteratorObject;

class Value {
 public:
  enum class Kind : uint8_t {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kList,
    kDict,
    kObject
  };

  Value() = default;  // undefined, without a name
  static Value undefined(std::string message);
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double d);
  static Value string(std::string s, bool markup = false);
  static Value new_list(std::vector<Value> items = {});
  static Value new_tuple(std::vector<Value> items);
  static Value new_dict();
  static Value new_dict(std::shared_ptr<DictData> d);
  static Value object(std::shared_ptr<Object> o);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  // int, float or bool (bool is an int subclass in Python).
  bool is_number() const {
    return kind_ == Kind::kInt || kind_ == Kind::kFloat || kind_ == Kind::kBool;
  }
  // int or bool.
  bool is_integral() const { return kind_ == Kind::kInt || kind_ == Kind::kBool; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList; }  // list or tuple
  bool is_tuple() const { return kind_ == Kind::kList && list().tuple; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_object() const { return kind_ == Kind::kObject; }
  bool is_markup() const { return kind_ == Kind::kString && markup_; }

  bool as_bool() const { return b_; }
  // int or bool as an integer.
  int64_t as_int() const { return kind_ == Kind::kBool ? (b_ ? 1 : 0) : i_; }
  // Any number as a double.
  double as_double() const { return kind_ == Kind::kFloat ? f_ : static_cast<double>(as_int()); }
  const std::string& str() const { return *static_cast<const std::string*>(ptr_.get()); }
  ListData& list() const { return *static_cast<ListData*>(ptr_.get()); }
  DictData& dict() const { return *static_cast<DictData*>(ptr_.get()); }
  Object& object() const { return *static_cast<Object*>(ptr_.get()); }
  std::shared_ptr<Object> object_ptr() const { return std::static_pointer_cast<Object>(ptr_); }
  // The message an error about this undefined value reports.
  std::string undefined_message() const;

  // The shared payload of a list, dict or object (for cycle tracking).
  const std::shared_ptr<void>& payload() const { return ptr_; }

  // Python `is`: same object for containers and objects, equal value for scalars.
  bool identical(const Value& other) const;

 private:
  Kind kind_ = Kind::kUndefined;
  bool markup_ = false;
  union {
    bool b_;
    int64_t i_ = 0;
    double f_;
  };
  std::shared_ptr<void> ptr_;  // string, ListData, DictData, Object, or undefined message
};

// An insertion-ordered dict keyed by hashable values with Python's key equality
// (1 == 1.0 == True are the same key).
class DictData {
 public:
  const Value* find(const Value& key) const;
  Value* find(const Value& key);
  const Value* find(std::string_view key) const;
  // Inserts or replaces; fails for unhashable keys (lists, dicts).
  Status set(Value key, Value value);
  void set(std::string_view key, Value value);
  bool erase(const Value& key);
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const std::vector<std::pair<Value, Value>>& entries() const { return entries_; }
  std::vector<std::pair<Value, Value>>& entries() { return entries_; }

 private:
  std::vector<std::pair<Value, Value>> entries_;
};

// ---- Python semantics of single values -------------------------------------------------------

// Python truthiness (Undefined is false).
bool truthy(const Value& v);
// Python type name: "str", "int", "NoneType", "list", "dict", "Undefined", ...
std::string type_name(const Value& v);
// Jinja2's object_type_repr(): "None", "dict object", "jinja2.utils.Namespace object".
std::string object_type_repr(const Value& v);
// str(v): None -> "None", True -> "True", 1.0 -> "1.0", lists and dicts as repr().
std::string py_str(const Value& v);
// repr(v).
std::string py_repr(const Value& v);
// repr() of a Python str.
std::string py_string_repr(std::string_view s);
// repr() of a Python float: shortest round-trip digits, "1.0", "1e-05", "inf", "nan".
std::string float_repr(double d);
// Python ==.
bool py_equals(const Value& a, const Value& b);
// Whether `v` can be a dict key / set member.
bool hashable(const Value& v);

enum class CompareOp { kLt, kLe, kGt, kGe };
// Python <, <=, >, >= ; TypeError for unorderable types.
Result<bool> py_compare(const Value& a, CompareOp op, const Value& b);

// A one-shot iterator, what Jinja2's map/select/unique/batch filters and reversed() return:
// iterating consumes it, it has no len() and it is always true.
class IteratorObject : public Object {
 public:
  IteratorObject(std::string type, std::vector<Value> items)
      : type_(std::move(type)), items_(std::move(items)) {}
  std::string type_name() const override { return type_; }
  std::string repr() const override { return "<" + type_ + " object>"; }
  IteratorObject* as_iterator() override { return this; }
  // The remaining items; the iterator is exhausted afterwards.
  std::vector<Value> take();
  // Consumes items up to and including the first equal to `v`; whether one was found.
  bool consume_until(const Value& v);

 private:
  std::string type_;
  std::vector<Value> items_;
  size_t pos_ = 0;
};

}  // namespace ember::jinja
