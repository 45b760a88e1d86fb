// Unit tests of the Jinja engine's semantics. The expected strings of the table-driven tests
// were produced by Python Jinja2 3.1 configured like Hugging Face transformers (trim_blocks,
// lstrip_blocks, loop controls, transformers' tojson, raise_exception, strftime_now at
// 2026-07-26T09:30:00, bos_token "<s>", eos_token "</s>"); the remaining tests check errors,
// limits and the sandbox.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "chat/jinja/template.h"

namespace ember {
namespace {

struct Case {
  const char* source;
  const char* context;  // JSON object
  const char* expected;
};

struct ErrorCase {
  const char* name;
  const char* source;
  const char* context;
  const char* message;  // substring of the error message
};

jinja::RenderOptions test_options() {
  jinja::RenderOptions o;
  o.now = *jinja::parse_iso8601("2026-07-26T09:30:00");
  return o;
}

Result<std::string> render(const std::string& source, const std::string& context_json = "{}",
                           const jinja::RenderOptions& options = test_options()) {
  auto tmpl = jinja::Template::parse(source);
  if (!tmpl.ok()) return tmpl.status();
  auto ctx = nlohmann::ordered_json::parse(context_json);
  if (!ctx.contains("bos_token")) ctx["bos_token"] = "<s>";
  if (!ctx.contains("eos_token")) ctx["eos_token"] = "</s>";
  return tmpl->render(ctx, options);
}

void expect_render(const Case& c) {
  SCOPED_TRACE(c.source);
  auto out = render(c.source, c.context);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(*out, c.expected);
}

TEST(JinjaEngine, WhitespaceControl) {
  const Case cases[] = {
      {"a  {{- 'b' -}}  c", "{}", "abc"},
      {"a\n  {%- if true %}b{% endif -%}\n  c", "{}", "abc"},
      {"x {# comment #} y", "{}", "x  y"},
      {"x\n  {#- comment -#}\n y", "{}", "xy"},
      {"{% if true %}\nline\n{% endif %}\nafter", "{}", "line\nafter"},
      {"  {% if true %}\n  kept indent\n  {% endif %}\n", "{}", "  kept indent\n"},
      {"  {{ 'var tags are not lstripped' }}\n", "{}", "  var tags are not lstripped"},
      {"  {%+ if true %}+keeps{% endif +%}\nnext", "{}", "  +keeps\nnext"},
      {"{% for x in [1,2] %}\n  {{ x }}\n{% endfor %}\n", "{}", "  1\n  2\n"},
      {"{% raw %}\n  {{ raw }} {% if %}\n{% endraw %}\nz", "{}", "\n  {{ raw }} {% if %}\nz"},
      {"a\r\nb\rc\n", "{}", "a\nb\nc"},
      {"trailing newline dropped\n", "{}", "trailing newline dropped"},
      {"two\n\n", "{}", "two\n"},
      {"\t{% set x = 1 %}\ttab", "{}", "\ttab"},
      {"{{ 'a' }}\n{{ 'b' }}\n", "{}", "a\nb"},
      {"{%- if true -%}\n\n  x  \n\n{%- endif -%}", "{}", "x"},
  };
  for (const Case& c : cases) expect_render(c);
}

TEST(JinjaEngine, Expressions) {
  const Case cases[] = {
      {"{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }}", "{}", "7 9 64 4"},
      {"{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 6 / 2 }} {{ 7.5 // 2 }}", "{}",
       "3 -4 2 3.5 3.0 3.0"},
      {"{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e-5 }} {{ 1e16 }} {{ 123.0 }} {{ 2.5e-3 }}", "{}",
       "1.0 0.30000000000000004 1e-05 1e+16 123.0 0.0025"},
      {"{{ 'ab' * 2 }} {{ [1] * 2 }} {{ [1] + [2] }} {{ 'a' ~ 1 ~ none ~ true }}", "{}",
       "abab [1, 1] [1, 2] a1NoneTrue"},
      {"{{ none }} {{ true }} {{ false }} {{ [1, 'a', none, true] }} {{ {'k': 'v'} }} {{ (1,) }}",
       "{}", "None True False [1, 'a', None, True] {'k': 'v'} (1,)"},
      {"{{ \"it's\" }} {{ ['it\\'s', \"q\\\"\", 'a\\nb'] }}", "{}",
       "it's [\"it's\", 'q\"', 'a\\nb']"},
      {"{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ [1, 2] < [1, 3] }}",
       "{}", "True False True True True"},
      {"{{ 1 in [1, 2] }} {{ 'ell' in 'hello' }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }}", "{}",
       "True True True True"},
      {"{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ [] or none }} {{ not 0 }} {{ 1 and 0 }}", "{}",
       "x b None True 0"},
      {"{{ 'y' if x else 'n' }} {{ 'y' if true }}|{{ 'y' if false }}|", "{}", "n y||"},
      {"{{ 'abc'[1] }} {{ 'abc'[-1] }} {{ 'abcdef'[1:4] }} {{ 'abc'[::-1] }} {{ [1, 2, 3, 4][::2] "
       "}} {{ 'héllo'[1:3] }}",
       "{}", "b c bcd cba [1, 3] él"},
      {"{{ user.name }} {{ user['name'] }} {{ user.missing }}|{{ users[0].name }} {{ users.0.name "
       "}}",
       "{\"user\": {\"name\": \"Ann\"}, \"users\": [{\"name\": \"Bo\"}]}", "Ann Ann |Bo Bo"},
      {"{{ 'a' 'b' }} {{ \"\\u00e9\\x41\\n\" }}", "{}", "ab éA\n"},
      {"{{ {'items': 1}['items'] }} {{ {'items': 1}.get('items') }}", "{}", "1 1"},
  };
  for (const Case& c : cases) expect_render(c);
}

TEST(JinjaEngine, Tests) {
  const Case cases[] = {
      {"{{ x is defined }} {{ y is undefined }} {{ none is none }} {{ 1 is number }} {{ true is "
       "boolean }} {{ true is integer }}",
       "{\"x\": 1}", "True True True True True False"},
      {"{{ 'a' is string }} {{ {} is mapping }} {{ [] is sequence }} {{ [] is iterable }} {{ 1.5 "
       "is float }} {{ 2 is integer }}",
       "{}", "True True True True True True"},
      {"{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ 'ab' "
       "is lower }} {{ 'AB' is upper }}",
       "{}", "True True True False True True"},
      {"{{ 1 is eq 1 }} {{ 1 is equalto 2 }} {{ 2 is gt 1 }} {{ 1 is le 1 }} {{ 1 is ne 2 }} {{ 1 "
       "is in [1, 2] }} {{ none is sameas none }}",
       "{}", "True False True True True True True"},
      {"{{ true is true }} {{ 1 is true }} {{ false is false }} {{ x is not none }} {{ x is "
       "callable }} {{ range is callable }}",
       "{\"x\": null}", "True False True False False True"},
  };
  for (const Case& c : cases) expect_render(c);
}

TEST(JinjaEngine, Loops) {
  const Case cases[] = {
      {"{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 "
       "}}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
       "{}", "1032TrueFalse3;2121FalseFalse3;3210FalseTrue3;"},
      {"{% for x in [1, 2, 3] %}{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }} {{ "
       "loop.cycle('odd', 'even') }};{% endfor %}",
       "{}", "<1>2 odd;1<2>3 even;2<3> odd;"},
      {"{% for x in [1, 2, 3, 4, 5, 6] if x is even %}{{ x }}:{{ loop.index }}/{{ loop.length }}{{ "
       "'.' if loop.last }} {% endfor %}",
       "{}", "2:1/3 4:2/3 6:3/3. "},
      {"{% for x in [] %}{{ x }}{% else %}empty{% endfor %} {% for x in [1] if false %}{% else "
       "%}filtered{% endfor %}",
       "{}", "empty filtered"},
      {"{% for x in range(10) %}{% if x is odd %}{% continue %}{% endif %}{% if x > 6 %}{% break "
       "%}{% endif %}{{ x }}{% endfor %}",
       "{}", "0246"},
      {"{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }} {% endfor %}{% for k in {'z': 1, "
       "'y': 2} %}{{ k }}{% endfor %}",
       "{}", "a=1 b=2 zy"},
      {"{% for a, b in [(1, 2), (3, 4)] %}{{ a + b }} {% endfor %}", "{}", "3 7 "},
      {"{% for x in [1, 2] %}{% for y in 'ab' %}{{ loop.index }}{{ x }}{{ y }} {% endfor %}{% "
       "endfor %}",
       "{}", "11a 21b 12a 22b "},
      {"{% for n in tree recursive %}{{ n.name }}{% if n.kids %}({{ loop(n.kids) }}){% endif %}{{ "
       "loop.depth }} {% endfor %}",
       "{\"tree\": [{\"name\": \"a\", \"kids\": [{\"name\": \"b\", \"kids\": []}]}, {\"name\": "
       "\"c\"}]}",
       "a(b2 )1 c1 "},
      {"{% for x in [1, 1, 2, 3, 3] %}{% if loop.changed(x) %}{{ x }}{% endif %}{% endfor %}", "{}",
       "123"},
      {"{% set x = 0 %}{% for i in [1, 2] %}{{ x }}{% set x = i %}{{ x }} {% endfor %}{{ x }}",
       "{}", "01 02 0"},
      {"{% set ns = namespace(total=0) %}{% for i in [1, 2, 3] %}{% set ns.total = ns.total + i "
       "%}{% endfor %}{{ ns.total }}",
       "{}", "6"},
      {"{% set ns = namespace(seen=false) %}{% for m in msgs if not ns.seen %}{% set ns.seen = "
       "true %}{{ m }}{% endfor %}",
       "{\"msgs\": [1, 2, 3]}", "1"},
  };
  for (const Case& c : cases) expect_render(c);
}

TEST(JinjaEngine, Assignments) {
  const Case cases[] = {
      {"{% set a, b = 1, 2 %}{{ a }}{{ b }} {% set t = 1, 2 %}{{ t }}", "{}", "12 (1, 2)"},
      {"{% if true %}{% set y = 5 %}{% endif %}{{ y }}", "{}", "5"},
      {"{% set x %}captured {{ 1 + 1 }}{% endset %}[{{ x }}] {% set y | upper %}shout{% endset "
       "%}{{ y }}",
       "{}", "[captured 2] SHOUT"},
      {"{% set ns = namespace(a=1) %}{% set ns.b = ns.a + 1 %}{{ ns.a }}{{ ns.b }}{{ ns.c is "
       "defined }}",
       "{}", "12False"},
      {"{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]", "{}", "3[]"},
      {"{% filter upper %}hello {{ 'world' }}{% set z = 1 %}{% endfilter %}[{{ z }}]", "{}",
       "HELLO WORLD[]"},
      {"{{ dict(a=1, b=2) }} {{ dict({'x': 1}, y=2) }}", "{}", "{'a': 1, 'b': 2} {'x': 1, 'y': 2}"},
  };
  for (const Case& c : cases) expect_render(c);
}

TEST(JinjaEngine, Macros) {
  const Case cases[] = {
      {"{% macro m(a, b=2, c='x') %}[{{ a }}{{ b }}{{ c }}]{% endmacro %}{{ m(1) }}{{ m(1, 3) }}{{ "
       "m(1, c='z') }}{{ m() }}",
       "{}", "[12x][13x][12z][2x]"},
      {"{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k=4) }}", "{}",
       "1(2, 3){'k': 4}"},
      {"{% macro m() %}<{{ caller() }}>{% endmacro %}{% call m() %}body{% endcall %}", "{}",
       "<body>"},
      {"{% macro m() %}<{{ caller('x') }}>{% endmacro %}{% call(v) m() %}got {{ v }}{% endcall %}",
       "{}", "<got x>"},
      {"{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(4) }}",
       "{}", "4321"},
      {"{% set x = 1 %}{% macro m() %}{{ x }}{% endmacro %}{% set x = 2 %}{{ m() }} {{ m.name }}",
       "{}", "2 m"},
      {"{% macro m(a) %}{{ a is defined }}{% endmacro %}{{ m() }}", "{}", "False"},
  };
  for (const Case& c : cases) expect_render(c);
}

TEST(JinjaEngine, Filters) {
  const Case cases[] = {
      {"{{ [3, 1, 2]|sort }} {{ [3, 1, 2]|sort(reverse=true) }} {{ ['b', 'A', 'c']|sort }} {{ "
       "[{'n': 2}, {'n': 1}]|sort(attribute='n') }}",
       "{}", "[1, 2, 3] [3, 2, 1] ['A', 'b', 'c'] [{'n': 1}, {'n': 2}]"},
      {"{{ [1, 2, 3]|first }} {{ [1, 2, 3]|last }} {{ [1, 2, 3]|length }} {{ 'hé'|length }} {{ "
       "[]|first is defined }}",
       "{}", "1 3 3 2 False"},
      {"{{ [1, 2]|join(', ') }} {{ [{'a': 'x'}, {'a': 'y'}]|join('-', attribute='a') }} {{ ['a', "
       "'b']|join }}",
       "{}", "1, 2 x-y ab"},
      {"{{ x|default('d') }} {{ ''|default('d') }} {{ ''|default('d', true) }} {{ none|d('n', "
       "true) }}",
       "{}", "d  d n"},
      {"{{ '  t  '|trim }}|{{ 'xxtxx'|trim('x') }}|{{ 'Hi'|upper }}|{{ 'Hi'|lower }}|{{ 'hello "
       "wORLD'|capitalize }}|{{ 'hello-world (x'|title }}",
       "{}", "t|t|HI|hi|Hello world|Hello-World (X"},
      {"{{ [1, 2, 3]|map('string')|list }} {{ [{'a': 1}, {}]|map(attribute='a', default=0)|list }} "
       "{{ ['a']|map('upper')|join }}",
       "{}", "['1', '2', '3'] [1, 0] A"},
      {"{{ [1, 2, 3, 4]|select('odd')|list }} {{ [1, 2, 3, 4]|reject('odd')|list }} {{ [0, 1, '', "
       "'a']|select|list }}",
       "{}", "[1, 3] [2, 4] [1, 'a']"},
      {"{{ ms|selectattr('role', 'equalto', 'user')|map(attribute='c')|list }} {{ "
       "ms|rejectattr('role', 'eq', 'user')|list|length }}",
       "{\"ms\": [{\"role\": \"user\", \"c\": 1}, {\"role\": \"bot\", \"c\": 2}, {\"role\": "
       "\"user\", \"c\": 3}]}",
       "[1, 3] 1"},
      {"{{ [1, 2, 2, 1]|unique|list }} {{ ['a', 'A']|unique|list }} {{ [3, 1, 2]|min }} {{ [3, 1, "
       "2]|max }} {{ [1, 2, 3]|sum }}",
       "{}", "[1, 2] ['a'] 1 3 6"},
      {"{{ {'b': 1, 'a': 2}|dictsort }} {{ {'b': 1, 'a': 2}|dictsort(by='value') }} {{ {'a': "
       "1}|items|list }}",
       "{}", "[('a', 2), ('b', 1)] [('b', 1), ('a', 2)] [('a', 1)]"},
      {"{{ [1, 2, 3]|reverse|list }} {{ 'abc'|reverse }} {{ [1, 2, 3, 4, 5]|batch(2)|list }} {{ "
       "[1, 2, 3, 4, 5]|slice(2)|list }}",
       "{}", "[3, 2, 1] cba [[1, 2], [3, 4], [5]] [[1, 2, 3], [4, 5]]"},
      {"{{ 3.7|int }} {{ '42'|int }} {{ 'x'|int }} {{ '4.5'|int }} {{ '12'|float }} {{ 2.5|round "
       "}} {{ 2.675|round(2) }} {{ 2.1|round(method='ceil') }} {{ -3|abs }}",
       "{}", "3 42 0 4 12.0 2.0 2.67 3.0 3"},
      {"{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2, "
       "blank=true) }}|{{ 'a\\nb'|indent('> ') }}",
       "{}", "a\n    b\n\n    c|  a\n  b|a\n  \n  b|a\n> b"},
      {"{{ 'hello'|replace('l', 'L') }} {{ 'a b c'|wordcount }} {{ 'x'|center(5) }}| {{ 'long "
       "sentence here'|truncate(12) }} {{ '<b>bold</b> text'|striptags }}",
       "{}", "heLLo 3   x  | long... bold text"},
      {"{{ '<a href=\"x\">'|e }} {{ '<b>'|safe }} {{ ('<b>'|safe) + '<i>' }} {{ 1|string }} {{ "
       "[1]|string }}",
       "{}", "&lt;a href=&#34;x&#34;&gt; <b> <b>&lt;i&gt; 1 [1]"},
      {"{{ '%s=%d'|format('x', 5) }} {{ '%05.1f' % 3.14159 }} {{ '{}-{}'.format('a', 1) }} {{ "
       "'{:>4}|{:.2f}'.format('x', 2.0) }}",
       "{}", "x=5 003.1 a-1    x|2.00"},
      {"{% for key, group in ms|groupby('role') %}{{ key }}:{{ group|length }} {% endfor %}",
       "{\"ms\": [{\"role\": \"user\"}, {\"role\": \"bot\"}, {\"role\": \"user\"}]}",
       "bot:1 user:2 "},
      {"{{ [1, 2]|tojson }} {{ {'a': 1, 'b': [true, none, 1.5, 'x']}|tojson }} {{ {'a': "
       "1}|tojson(indent=2) }}",
       "{}", "[1, 2] {\"a\": 1, \"b\": [true, null, 1.5, \"x\"]} {\n  \"a\": 1\n}"},
      {"{{ 'é\"<>&'|tojson }} {{ 'é'|tojson(ensure_ascii=true) }} {{ {'b': 1, 'a': "
       "2}|tojson(sort_keys=true) }} {{ [1, {'a': 2}]|tojson(separators=(',', ':')) }}",
       "{}", "\"é\\\"<>&\" \"\\u00e9\" {\"a\": 2, \"b\": 1} [1,{\"a\":2}]"},
      {"{{ tools|tojson }}", "{\"tools\": [{\"z\": 1, \"a\": {\"y\": 2, \"b\": 3}}]}",
       "[{\"z\": 1, \"a\": {\"y\": 2, \"b\": 3}}]"},
  };
  for (const Case& c : cases) expect_render(c);
}

TEST(JinjaEngine, Methods) {
  const Case cases[] = {
      {"{{ 'a,b,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ "
       "'a,b,c'.rsplit(',', 1) }}",
       "{}", "['a', 'b', 'c'] ['a', 'b'] ['a', 'b,c'] ['a,b', 'c']"},
      {"{{ '  x '.strip() }}|{{ 'xyx'.strip('x') }}|{{ '  x '.lstrip() }}|{{ '  x '.rstrip() }}|{{ "
       "'\\n\\nx\\n'.strip('\\n') }}",
       "{}", "x|y|x |  x|x"},
      {"{{ 'abc'.startswith('a') }} {{ 'abc'.endswith(('x', 'c')) }} {{ 'Hello'.replace('l', 'L', "
       "1) }} {{ 'abc'.find('c') }} {{ 'aaa'.count('a') }}",
       "{}", "True True HeLlo 2 3"},
      {"{{ 'ab'.upper() }} {{ 'AB'.lower() }} {{ 'hello world'.title() }} {{ 'hELLO'.capitalize() "
       "}} {{ 'x'.join(['1', '2']) }}",
       "{}", "AB ab Hello World Hello 1x2"},
      {"{{ {'a': 1}.get('a') }} {{ {'a': 1}.get('b') }} {{ {'a': 1}.get('b', 2) }} {{ {'a': "
       "1}.keys()|list }} {{ {'a': 1}.values()|list }}",
       "{}", "1 None 2 ['a'] [1]"},
      {"{{ [1, 2, 3].index(2) }} {{ [1, 2, 2].count(2) }} {{ '{0}{1}{0}'.format('a', 'b') }} {{ "
       "'{name}'.format(name='n') }}",
       "{}", "1 2 aba n"},
  };
  for (const Case& c : cases) expect_render(c);
}

TEST(JinjaEngine, Undefined) {
  const Case cases[] = {
      {"[{{ x }}] [{{ x|length }}] [{{ x|list }}] [{{ x|default('d') }}] [{{ x is defined }}] [{{ "
       "not x }}] [{{ x ~ 'y' }}]",
       "{}", "[] [0] [[]] [d] [False] [True] [y]"},
      {"{% for i in x %}{{ i }}{% else %}no items{% endfor %} {{ 'a' in x }} {{ x == x }}", "{}",
       "no items False True"},
      {"{{ user.missing }}|{{ user.missing is defined }}|{{ user['missing']|default('fb') }}|{{ "
       "none.missing }}|",
       "{\"user\": {}}", "|False|fb||"},
  };
  for (const Case& c : cases) expect_render(c);
}

TEST(JinjaEngine, GlobalsAndTime) {
  const Case cases[] = {
      {"{{ range(3)|list }} {{ range(1, 7, 2)|list }} {{ range(3, 0, -1)|list }}", "{}",
       "[0, 1, 2] [1, 3, 5] [3, 2, 1]"},
      {"{{ strftime_now('%Y-%m-%d %H:%M %A %B') }}", "{}", "2026-07-26 09:30 Sunday July"},
      {"{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{{ c.next() }} {% set j = "
       "joiner('|') %}{% for x in [1, 2] %}{{ j() }}{{ x }}{% endfor %}",
       "{}", "aba 1|2"},
      {"{{ bos_token }}x{{ eos_token }}", "{}", "<s>x</s>"},
      {"{% generation %}assistant text{% endgeneration %}", "{}", "assistant text"},
  };
  for (const Case& c : cases) expect_render(c);
}

const ErrorCase kErrorCases[] = {
    {"UndefinedAttribute", "{{ x.y }}", "{}", "'x' is undefined"},
    {"MissingKeyChain", "line1\n{{ user.a.b }}", "{\"user\": {}}",
     "'dict object' has no attribute 'a'"},
    {"RaiseException", "{% if true %}\n  {{ raise_exception('Bad role: ' ~ role) }}\n{% endif %}",
     "{\"role\": \"x\"}", "Bad role: x"},
    {"StrPlusNone", "{{ 'a' + none }}", "{}", "can only concatenate str (not \"NoneType\") to str"},
    {"InNone", "{{ 'a' in none }}", "{}", "argument of type 'NoneType' is not iterable"},
    {"NoneMethod", "{{ none.split() }}", "{}", "'None' has no attribute 'split'"},
    {"ItemsOfList", "{{ [1]|items|list }}", "{}", "Can only get item pairs from a mapping."},
    {"ToJsonUndefined", "{{ x|tojson }}", "{}",
     "Object of type Undefined is not JSON serializable"},
    {"DivisionByZero", "{{ 1 / 0 }}", "{}", "division by zero"},
    {"GeneratorLength", "{{ [1]|select|length }}", "{}", "object of type 'generator' has no len()"},
    {"UnknownFilter", "{% for i in [] %}{{ x|nosuch }}{% endfor %}", "{}",
     "No filter named 'nosuch'."},
    {"UnknownFilterInIfAtRuntime", "{% if true %}{{ x|nosuch }}{% endif %}", "{}",
     "No filter named 'nosuch' found."},
    {"UnknownTest", "{{ x is nosuch }}", "{}", "No test named 'nosuch'."},
    {"UnknownTag", "{% nosuch %}", "{}", "Encountered unknown tag 'nosuch'."},
    {"UnclosedIf", "{% if true %}x", "{}", "Unexpected end of template."},
    {"UnexpectedEnd", "{% endfor %}", "{}", "Encountered unknown tag 'endfor'."},
    {"BadExpression", "{{ 1 + }}", "{}", "unexpected 'end of print statement'"},
    {"UnterminatedString", "{{ 'abc }}", "{}", "unexpected char"},
    {"BreakOutsideLoop", "{% break %}", "{}", "'break' outside loop"},
    {"MacroKwarg", "{% macro m(a) %}{% endmacro %}{{ m(b=1) }}", "{}",
     "macro 'm' takes no keyword argument 'b'"},
    {"MacroTooManyArgs", "{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", "{}",
     "macro 'm' takes not more than 1 argument(s)"},
    {"UnpackMismatch", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", "{}",
     "too many values to unpack (expected 2)"},
    {"CompareTypes", "{{ 1 < 'a' }}", "{}",
     "'<' not supported between instances of 'int' and 'str'"},
    {"NotCallable", "{{ 'x'() }}", "{}", "'str' object is not callable"},
};

// Jinja2 marks a loop as "iterated" only when a body run reaches its end, so `else` also runs
// when every iteration left through continue, or the first one through break (expected values
// from Jinja2).
TEST(JinjaEngine, ForElseAfterContinueAndBreak) {
  const Case cases[] = {
      {"{% for x in [1, 2] %}{% continue %}{% else %}E{% endfor %}", "{}", "E"},
      {"{% for x in [1] %}{% break %}{% else %}E{% endfor %}", "{}", "E"},
      {"{% for x in [1, 2] %}{% if x == 2 %}{% break %}{% endif %}{% else %}E{% endfor %}", "{}",
       ""},
  };
  for (const Case& c : cases) expect_render(c);
}

// Jinja2 resolves names per frame at compile time: a name assigned in a frame is that frame's
// variable everywhere in it, so nested frames that read it before the assignment see
// Undefined, not the context variable of the same name (expected values from Jinja2).
TEST(JinjaEngine, CompileTimeScoping) {
  const Case cases[] = {
      {"{% for i in [1] %}{{ s }}{% endfor %}{% set s = 'x' %}{{ s }}", R"({"s": "Hello"})", "x"},
      {"{% macro m() %}{{ s }}{% endmacro %}{{ m() }}{% set s = 'x' %}{{ m() }}",
       R"({"s": "Hello"})", "x"},
      {"{{ s }}{% set s = 'x' %}{{ s }}", R"({"s": "Hello"})", "Hellox"},
      {"{% for i in [1, 2] %}{{ s }}{% endfor %}{% set s = 'late' %}", R"({"s": "Hello"})", ""},
      {"{% if false %}{% set s = 1 %}{% endif %}{% for i in [1] %}{{ s }}{% endfor %}",
       R"({"s": "Hello"})", "Hello"},
      {"{% for i in [1] %}{% for j in [1] %}{{ s }}{% endfor %}{% set s = 3 %}{% endfor %}",
       R"({"s": "Hello"})", ""},
  };
  for (const Case& c : cases) expect_render(c);
}

TEST(JinjaEngine, ErrorsMatchJinja2AndCarryLineAndColumn) {
  for (const ErrorCase& c : kErrorCases) {
    SCOPED_TRACE(c.name);
    auto out = render(c.source, c.context);
    ASSERT_FALSE(out.ok()) << "rendered: " << *out;
    const std::string m = out.status().message();
    EXPECT_NE(m.find(c.message), std::string::npos) << m;
    EXPECT_EQ(m.rfind("line ", 0), 0u) << m;
    EXPECT_NE(m.find(", column "), std::string::npos) << m;
  }
}

TEST(JinjaEngine, ErrorPositions) {
  // The column of the failing `.b`.
  auto out = render("line one\n  {{ user.a.b }}", R"({"user": {}})");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message().rfind("line 2, column 12: ", 0), 0u) << out.status().message();
  out = render(
      "{% for x in [1] %}\n{% if x %}\n   {{ raise_exception('stop') }}{% endif %}{% endfor %}");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(), "line 3, column 22: stop");
  auto parsed = jinja::Template::parse("ok\n{% if %}");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().message().rfind("line 2, column ", 0), 0u) << parsed.status().message();
  // Columns count characters, not bytes.
  out = render("é€😀{{ x.y }}");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message().rfind("line 1, column 8: ", 0), 0u) << out.status().message();
}

TEST(JinjaEngine, KeyOrderFollowsTheContext) {
  auto tmpl = jinja::Template::parse("{{ d|tojson }} {% for k in d %}{{ k }}{% endfor %}");
  ASSERT_TRUE(tmpl.ok());
  auto ordered = tmpl->render(nlohmann::ordered_json::parse(R"({"d": {"z": 1, "a": 2}})"));
  ASSERT_TRUE(ordered.ok());
  EXPECT_EQ(*ordered, R"({"z": 1, "a": 2} za)");
  // nlohmann::json itself sorts keys.
  auto sorted = tmpl->render(nlohmann::json::parse(R"({"d": {"z": 1, "a": 2}})"));
  ASSERT_TRUE(sorted.ok());
  EXPECT_EQ(*sorted, R"({"a": 2, "z": 1} az)");
  EXPECT_FALSE(tmpl->render(nlohmann::ordered_json::array()).ok());
}

TEST(JinjaEngine, MutatingMethods) {
  // Allowed by default (llama.cpp's engine allows them too) ...
  auto out = render(
      "{% set ns = namespace(l=[]) %}{% set _ = ns.l.append(1) %}{{ ns.l }}"
      "{% set d = {} %}{% set _ = d.update({'a': 1}) %}{{ d }}{{ ns.l.pop() }}");
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(*out, "[1]{'a': 1}1");
  // ... and refused like transformers' ImmutableSandboxedEnvironment when asked.
  jinja::RenderOptions strict = test_options();
  strict.immutable_sandbox = true;
  out = render("{% set l = [] %}{% set _ = l.append(1) %}", "{}", strict);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("access to attribute 'append' of 'list' object is unsafe."),
            std::string::npos);
}

TEST(JinjaEngine, SandboxExposesOnlyData) {
  // Python internals do not exist: these are plain undefined lookups.
  auto out =
      render("{{ ''.__class__ }}|{{ x.__dict__ is defined }}|{{ range.__globals__ is defined }}",
             R"({"x": {}})");
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(*out, "|False|False");
  EXPECT_FALSE(render("{% include 'other.jinja' %}").ok());
  EXPECT_FALSE(render("{% extends 'base.jinja' %}").ok());
  EXPECT_FALSE(render("{% import 'm.jinja' as m %}").ok());
}

TEST(JinjaEngine, LimitsTurnRunawayTemplatesIntoErrors) {
  auto expect_limit = [](const std::string& source, const jinja::RenderOptions& o) {
    SCOPED_TRACE(source);
    auto out = render(source, "{}", o);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted) << out.status().to_string();
  };
  const jinja::RenderOptions o = test_options();
  expect_limit("{{ range(1000000000)|length }}", o);
  expect_limit("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", o);
  expect_limit("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
               o);
  expect_limit("{{ 'x' * 1000000000 }}", o);
  expect_limit(
      "{% set l = [] %}{% set _ = l.append(l) %}{% for x in l recursive %}{{ loop(x) }}{% endfor "
      "%}",
      o);
  jinja::RenderOptions small = o;
  small.limits.max_output_bytes = 100000;
  expect_limit("{% for i in range(10000) %}{{ 'abcdefghij' * 2 }}{% endfor %}", small);
  jinja::RenderOptions few_steps = o;
  few_steps.limits.max_steps = 10000;
  expect_limit("{% for i in range(100000) %}{{ i }}{% endfor %}", few_steps);
  // Deep nesting is rejected by the parser instead of exhausting the stack.
  const std::string parens = std::string(5000, '(') + "1" + std::string(5000, ')');
  auto parsed = jinja::Template::parse("{{ " + parens + " }}");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("nesting too deep"), std::string::npos);
  std::string ifs;
  for (int i = 0; i < 2000; ++i) ifs += "{% if true %}";
  for (int i = 0; i < 2000; ++i) ifs += "{% endif %}";
  EXPECT_FALSE(jinja::Template::parse(ifs).ok());
  // Within the limits, recursion works.
  auto ok = render(
      "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% else %}done{% endif %}{% endmacro %}{{ f(50) "
      "}}");
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(*ok, "done");
}

TEST(JinjaEngine, SelfReferencingContainersDoNotRecurseForever) {
  auto out = render(
      "{% set a = [] %}{% set _ = a.append(a) %}{% set b = [] %}{% set _ = b.append(b) %}"
      "{{ a == b }}{{ a|length }}");
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(*out, "False1");
  EXPECT_FALSE(render("{% set a = [] %}{% set _ = a.append(a) %}{{ a|tojson }}").ok());
}

TEST(JinjaEngine, Iso8601) {
  auto t = jinja::parse_iso8601("2026-07-26T09:30:05");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->tm_year, 126);
  EXPECT_EQ(t->tm_mon, 6);
  EXPECT_EQ(t->tm_mday, 26);
  EXPECT_EQ(t->tm_hour, 9);
  EXPECT_EQ(t->tm_min, 30);
  EXPECT_EQ(t->tm_sec, 5);
  EXPECT_EQ(t->tm_wday, 0);  // a Sunday
  EXPECT_TRUE(jinja::parse_iso8601("2026-07-26").ok());
  EXPECT_TRUE(jinja::parse_iso8601("2026-07-26 09:30").ok());
  EXPECT_FALSE(jinja::parse_iso8601("2026-02-30").ok());
  EXPECT_FALSE(jinja::parse_iso8601("yesterday").ok());
  EXPECT_FALSE(jinja::parse_iso8601("2026-07-26T09:30:00+02:00").ok());
}

TEST(JinjaEngine, InvalidUtf8SourceIsAnError) {
  EXPECT_FALSE(jinja::Template::parse("abc\xff").ok());
  EXPECT_FALSE(jinja::Template::parse("\xc0\xaf").ok());
}

}  // namespace
}  // namespace ember
