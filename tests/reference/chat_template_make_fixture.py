#!/usr/bin/env python3
"""Golden outputs for Pagoda's chat-template interpreter, rendered by Python's jinja2.

The environment mirrors Hugging Face transformers' chat-template compiler: an
ImmutableSandboxedEnvironment with trim_blocks=True, lstrip_blocks=True, the loopcontrols
extension, HF's tojson filter (json.dumps, ensure_ascii=False), raise_exception, and
strftime_now reading a fixed clock (NOW, UTC). Render calls pass what apply_chat_template
passes: messages, tools=None, documents=None, add_generation_prompt, bos_token, eos_token,
plus per-case extra variables.

Writes two committed fixtures:
  tests/fixtures/chat_templates/golden.json     real templates x conversations
  tests/fixtures/chat_templates/language.json   small templates exercising language features
A case whose render raises records {"error": "<message>"}; the C++ side must raise too.

Usage: python3 tests/reference/chat_template_make_fixture.py   (needs jinja2 >= 3.1)
"""

import calendar
import datetime
import json
import pathlib

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "chat_templates"
NOW = datetime.datetime(2024, 7, 26, 12, 0, 0)
NOW_UNIX = calendar.timegm(NOW.timetuple())


class AssistantTracker(jinja2.ext.Extension):
    # HF's {% generation %} tag; for plain rendering it just renders its body.
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return NOW.strftime(fmt)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(env, source, variables):
    try:
        return {"expected": env.from_string(source).render(**variables)}
    except Exception as e:  # noqa: BLE001 - any jinja2/Python error is an expected failure
        return {"error": f"{type(e).__name__}: {e}"}


UNICODE = 'héllo 世界 🎉 "double" \'single\' back\\slash\nnew line\ttab <tag> & done'

CONVERSATIONS = {
    "system_user": [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "What is 2+2?"},
    ],
    "multi_turn": [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Hi!"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Tell me a joke."},
        {"role": "assistant", "content": "  Why did the chicken cross the road?\n"},
        {"role": "user", "content": "Why?"},
    ],
    "no_system": [{"role": "user", "content": "Just a user message."}],
    "no_system_multi": [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": "three"},
    ],
    "empty_content": [
        {"role": "system", "content": ""},
        {"role": "user", "content": ""},
    ],
    "unicode": [{"role": "system", "content": UNICODE}, {"role": "user", "content": UNICODE}],
    "think_tags": [
        {"role": "user", "content": "Solve it."},
        {"role": "assistant", "content": "<think>\nreasoning here\n</think>\n\nThe answer is 4."},
        {"role": "user", "content": "Thanks /no_think"},
    ],
    "assistant_last": [
        {"role": "user", "content": "Continue this:"},
        {"role": "assistant", "content": "Once upon a time"},
    ],
}

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name, e.g. Paris"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    "days": {"type": "integer", "minimum": 1, "maximum": 7.5},
                },
                "required": ["city"],
            },
        },
    }
]

# file -> (bos_token, eos_token)
TEMPLATES = {
    "HuggingFaceTB-SmolLM2-135M-Instruct.jinja": ("<|im_start|>", "<|im_end|>"),
    "HuggingFaceTB-SmolLM3-3B.jinja": ("", "<|im_end|>"),
    "meta-llama-Llama-3.1-8B-Instruct.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    "meta-llama-Llama-3.2-3B-Instruct.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    "meta-llama-Llama-3.3-70B-Instruct.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    "Qwen-Qwen2.5-7B-Instruct.jinja": ("", "<|im_end|>"),
    "Qwen-Qwen3-0.6B.jinja": ("", "<|im_end|>"),
    "Qwen-QwQ-32B.jinja": ("", "<|im_end|>"),
    "mistralai-Mistral-Nemo-Instruct-2407.jinja": ("<s>", "</s>"),
    "Mistral-Small-3.2-24B-Instruct-2506.jinja": ("<s>", "</s>"),
    "unsloth-mistral-Devstral-Small-2507.jinja": ("<s>", "</s>"),
    "google-gemma-2-2b-it.jinja": ("<bos>", "<eos>"),
    "microsoft-Phi-3.5-mini-instruct.jinja": ("<s>", "<|endoftext|>"),
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "ibm-granite-granite-3.3-2B-Instruct.jinja": ("<|end_of_text|>", "<|end_of_text|>"),
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja": ("<|begin_of_text|>", "<|im_end|>"),
}

# Extra variable sets, each rendered (with add_generation_prompt) for templates that read them.
EXTRAS = [
    {},
    {"enable_thinking": False},
    {"tools": TOOLS},
]


def uses(source, extra):
    return all(name in source for name in extra)


def golden_cases(env):
    cases = []
    for name, (bos, eos) in TEMPLATES.items():
        source = (FIXTURES / name).read_text(encoding="utf-8")
        for conv_name, messages in CONVERSATIONS.items():
            for extra in EXTRAS:
                for agp in (True, False):
                    if extra and (not agp or not uses(source, extra)):
                        continue
                    variables = {
                        "messages": messages,
                        "tools": None,
                        "documents": None,
                        "add_generation_prompt": agp,
                        "bos_token": bos,
                        "eos_token": eos,
                    }
                    variables.update(extra)
                    case = {
                        "template": name,
                        "conversation": conv_name,
                        "add_generation_prompt": agp,
                        "bos_token": bos,
                        "eos_token": eos,
                        "extra": {k: json.dumps(v, ensure_ascii=False) for k, v in extra.items()},
                    }
                    case.update(render(env, source, variables))
                    cases.append(case)
    return cases


# (template, context) pairs exercising one feature each; the context is JSON.
LANGUAGE = [
    ("plain text only", {}),
    ("{{ 'a' ~ 1 ~ none ~ true }}", {}),
    ("{{ 1 + 2 * 3 - 4 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 ** -1 }}", {}),
    ("{{ 1.5 + 1 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e15 }} {{ 0.0001 }} {{ 0.00001 }} {{ 3.0 }} {{ -0.0 }} {{ 1/3 }}", {}),
    ("{{ -2 ** 2 }} {{ (-2) ** 2 }} {{ - 3 | abs }} {{ not true }} {{ not 0 }}", {}),
    ("{{ 'x' * 3 }}{{ 2 * 'ab' }}{{ [1, 2] * 2 }}{{ [1] + [2, 3] }}", {}),
    ("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 == 1.0 }} {{ true == 1 }}", {}),
    ("{{ 'ell' in 'hello' }} {{ 'z' not in 'hello' }} {{ 2 in [1, 2] }} {{ 'k' in d }} {{ 'q' in d }}", {"d": {"k": 1}}),
    ("{{ a and b }}|{{ a or b }}|{{ c or 'dflt' }}|{{ c and 'x' }}|{{ undefined_name or 'u' }}", {"a": 1, "b": "bee", "c": ""}),
    ("{{ 'yes' if x else 'no' }} {{ 'yes' if y else 'no' }} [{{ 'only' if y }}]", {"x": [1], "y": []}),
    ('{{ "tab\\there" }}|{{ \'it\\\'s\' }}|{{ "\\u00e9\\x41\\n" }}|{{ "a" "b" }}|{{ "\\q" }}', {}),
    ("{{ [1, 'two', 3.5, none, true, [4], {'k': 'v'}] }}", {}),
    ("{{ {'a': 1, 'b': [1, 2]} }} {{ (1, 2) }} {{ (1,) }} {{ () }} {{ \"it's\" }} {{ ['it\\'s'] }}", {}),
    ("{{ s[0] }}{{ s[-1] }}{{ s[1:3] }}{{ s[::-1] }}{{ s[:2] }}{{ s[3:] }}{{ s[::2] }}", {"s": "héllo wörld"}),
    ("{{ l[1:] }}{{ l[:-1] }}{{ l[::-1] }}{{ l[-2:] }}{{ l[5:] }}{{ l[1:10:2] }}", {"l": [1, 2, 3, 4, 5]}),
    ("{{ m.role }}{{ m['content'] }}{{ m.missing }}|{{ m.missing is defined }}{{ l[10] is defined }}", {"m": {"role": "user", "content": "hi"}, "l": [1]}),
    ("{% for x in items %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}", {"items": ["a", "b", "c"]}),
    ("{% for x in [] %}never{% else %}empty{% endfor %}|{% for x in [1] %}{{ x }}{% else %}no{% endfor %}", {}),
    ("{% for k, v in d.items() %}{{ k }}={{ v }},{% endfor %}|{% for k in d %}{{ k }}{% endfor %}", {"d": {"b": 1, "a": 2}}),
    ("{% for x in range(10) if x is odd %}{{ x }}{{ loop.index }}{% if not loop.last %},{% endif %}{% endfor %}", {}),
    ("{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}{% for (a, b) in [(5, 6)] %}{{ a * b }}{% endfor %}", {}),
    ("{% for c in 'héllo' %}[{{ c }}]{% endfor %}", {}),
    ("{% for x in [1, 2] %}{% for y in 'ab' %}{{ loop.index }}{{ y }}{% endfor %}{{ loop.index }}{% endfor %}", {}),
    ("{% for x in xs %}{{ loop.previtem }}-{{ x }}-{{ loop.nextitem }}|{{ loop.cycle('o', 'e') }} {% endfor %}", {"xs": [1, 2, 3]}),
    ("{% set x = 1 %}{% for i in [1, 2] %}{% set x = i %}{{ x }}{% endfor %}{{ x }}", {}),
    ("{% set ns = namespace(total=0, seen=false) %}{% for i in [1, 2, 3] %}{% set ns.total = ns.total + i %}{% set ns.seen = true %}{% endfor %}{{ ns.total }}{{ ns.seen }}", {}),
    ("{% if x %}a{% elif y %}b{% else %}c{% endif %}{% if y %}a{% elif x %}b{% else %}c{% endif %}{% if not x and not y %}a{% else %}c{% endif %}", {"x": 0, "y": 1}),
    ("{% set a, b = [1, 2] %}{{ a }}{{ b }}{% set c = 3, 4 %}{{ c }}", {}),
    ("{% set block %}inner {{ 1 + 1 }}{% endset %}[{{ block }}]{% set up | upper %}shout{% endset %}{{ up }}", {}),
    ("{% macro greet(name, punct='!') %}Hello {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} {{ greet(punct='.', name='C') }}", {}),
    ("{% macro outer() %}[{{ caller() }}]{% endmacro %}{% call outer() %}inside {{ 1 }}{% endcall %}", {}),
    ("{% macro list(items) %}{% for i in items %}<{{ caller(i) }}>{% endfor %}{% endmacro %}{% call(item) list([1, 2]) %}{{ item * 10 }}{% endcall %}", {}),
    ("{% macro m() %}{{ g }}{% endmacro %}{% set g = 'global' %}{{ m() }}", {}),
    ("{% filter upper %}up {{ 'here' }}{% endfilter %}", {}),
    ("{{ '  pad  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 'Hello'|upper }}{{ 'Hello'|lower }}|{{ 'hello world'|capitalize }}|{{ \"it's a-b (c) [d] <e> hello's\"|title }}", {}),
    ("{{ l|length }}{{ s|length }}{{ d|length }}{{ l|count }}|{{ l|first }}{{ l|last }}|{{ s|first }}|{{ l|join(', ') }}|{{ l|join }}", {"l": [3, 1, 2], "s": "héllo", "d": {"a": 1}}),
    ("{{ missing|default('dflt') }}|{{ ''|default('empty') }}|{{ ''|default('empty', true) }}|{{ none|d('n', boolean=true) }}|{{ 0|default(5) }}", {}),
    ("{{ d|tojson }}|{{ d|tojson(indent=2) }}|{{ l|tojson }}|{{ 'é\"\\n'|tojson }}|{{ 1.5|tojson }}|{{ none|tojson }}|{{ d|tojson(sort_keys=true) }}", {"d": {"z": [1, {"b": None, "a": True}], "a": "x", "e": {}}, "l": []}),
    ("{{ d|tojson(separators=(',', ':')) }}|{{ 'é'|tojson(true) }}|{{ '🎉'|tojson(ensure_ascii=true) }}", {"d": {"a": [1, 2], "b": "c"}}),
    ("{{ d|items|list }}|{% for k, v in d|items %}{{ k }}{{ v }}{% endfor %}|{{ d.keys()|list }}{{ d.values()|list }}|{{ d.get('a') }}{{ d.get('q') }}{{ d.get('q', 7) }}", {"d": {"a": 1, "b": 2}}),
    ("{{ 'abc'|list }}|{{ 5|string }}{{ [1]|string }}|{{ '42'|int + 1 }}{{ '4.7'|int }}{{ 'x'|int }}{{ 'x'|int(9) }}{{ 4.9|int }}{{ '3.5'|float }}", {}),
    ("{{ 'a-b-a'|replace('a', 'x') }}{{ 'aaa'|replace('a', 'b', 2) }}|{{ 'x'|safe }}|{{ '<&>'|e }}", {}),
    ("[{{ text|indent }}]|[{{ text|indent(2, true) }}]|[{{ text|indent('> ', first=true, blank=true) }}]", {"text": "line1\nline2\n\nline4\n"}),
    ("{{ users|selectattr('active')|map(attribute='name')|join(',') }}|{{ users|rejectattr('active')|map(attribute='name')|list }}|{{ users|selectattr('role', 'equalto', 'admin')|list|length }}", {"users": [{"name": "a", "active": True, "role": "admin"}, {"name": "b", "active": False, "role": "user"}, {"name": "c", "active": True, "role": "user"}]}),
    ("{{ [1, 2, 3, 4]|select('even')|list }}{{ [1, 2, 3, 4]|reject('odd')|list }}{{ ['a', 'B']|map('upper')|list }}{{ [3, 1, 2]|sort }}{{ ['b', 'A', 'c']|sort }}{{ [3, 1, 2]|sort(reverse=true) }}", {}),
    ("{{ [1, 2, 2, 3, 1]|unique|list }}{{ [3, 1, 2]|max }}{{ [3, 1, 2]|min }}{{ [1, 2, 3]|sum }}{{ [1, 2]|reverse|list }}{{ 'abc'|reverse }}{{ -3|abs }}{{ 2.5|round }}{{ 2.567|round(2) }}", {}),
    ("{{ d|dictsort }}{{ 'one two  three'|wordcount }}[{{ 'ab'|center(6) }}]", {"d": {"b": 1, "a": 2}}),
    ("{{ '  hi  '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ '  hi  '.lstrip() }}|{{ '  hi  '.rstrip() }}|{{ '\\n\\nhi'.lstrip('\\n') }}", {}),
    ("{{ 'hello'.startswith('he') }}{{ 'hello'.endswith('lo') }}{{ 'hello'.startswith(('x', 'h')) }}{{ 'hello'.endswith('x') }}", {}),
    ("{{ 'a,b,,c'.split(',') }}{{ '  a b\\tc  '.split() }}{{ 'a,b,c'.split(',', 1) }}{{ 'a,b,c'.rsplit(',', 1) }}", {}),
    ("{{ 'Hello World'.upper() }}{{ 'Hello World'.lower() }}{{ 'hello wORLD'.title() }}{{ 'hELLO'.capitalize() }}{{ 'aXa'.replace('a', 'b') }}", {}),
    ("{{ 'hello'.find('l') }}{{ 'hello'.count('l') }}{{ '-'.join(['a', 'b']) }}{{ 'abc'.removeprefix('a') }}{{ '123'.isdigit() }}{{ 'line1\\nline2'.splitlines() }}", {}),
    ("{{ x is defined }}{{ y is defined }}{{ y is undefined }}{{ n is none }}{{ x is not none }}{{ s is string }}{{ x is string }}{{ d is mapping }}{{ l is mapping }}", {"x": 1, "n": None, "s": "s", "d": {}, "l": []}),
    ("{{ l is iterable }}{{ s is iterable }}{{ x is iterable }}{{ x is number }}{{ x is integer }}{{ f is float }}{{ t is boolean }}{{ t is true }}{{ x is odd }}{{ x is even }}{{ 6 is divisibleby 3 }}{{ 6 is divisibleby(4) }}", {"l": [], "s": "", "x": 1, "f": 1.5, "t": True}),
    ("{{ 1 is eq 1 }}{{ 1 is ne 1 }}{{ 2 is gt 1 }}{{ 2 is lt 1 }}{{ 'a' is in 'abc' }}{{ 'hi' is lower }}{{ 'HI' is upper }}{{ range is callable }}{{ none is sameas none }}", {}),
    ("{{ messages[0].content }}{{ messages|length }}{{ messages[-1]['role'] }}{{ messages|selectattr('role', 'equalto', 'user')|list|length }}", {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]}),
    ("{{ d == {'a': 1} }}{{ d == {'a': 2} }}{{ [1, [2]] == [1, [2]] }}{{ (1, 2) == [1, 2] }}{{ undefined_a == undefined_b }}{{ none == none }}", {"d": {"a": 1}}),
    ("  {% if true %}\n    lstrip and trim\n  {% endif %}\n  {{ 'var keeps' }}\n{# comment #}\nafter\n  {%- if true -%}  \n  minus  \n  {%- endif %}\n{%+ if true %}plus{% endif +%}\nend", {}),
    ("a\n{% raw %}{{ not evaluated }} {% if %}{% endraw %}\nb", {}),
    ("line\r\nwindows\r\n{% if true %}\r\nx\r\n{% endif %}\r\n", {}),
    ("{% for m in messages %}{{ m.role }}{% if not loop.last %}, {% endif %}{% endfor %}\n", {"messages": [{"role": "a"}, {"role": "b"}]}),
    ("{{ strftime_now('%Y-%m-%d %d %b %Y %B %A %H:%M') }}", {}),
    ("{% generation %}gen {{ 1 }}{% endgeneration %}", {}),
    ("{% set j = joiner('|') %}{% for x in [1, 2, 3] %}{{ j() }}{{ x }}{% endfor %}", {}),
    ("{{ dict(a=1, b='x') }}{{ namespace(a=1).a }}{{ range(3)|list }}{{ range(1, 10, 3)|list }}{{ range(5, 0, -2)|list }}", {}),
    ("{{ big * 3 }} {{ big + 1 }} {{ 10 / 4 }} {{ 10 / 5 }} {{ 2 ** 62 }}", {"big": 1000000000000}),
    # Whitespace control: every combination of -/+ markers with trim_blocks / lstrip_blocks.
    ("a  \n  {%- if true %}  \n  b  \n  {% endif -%}  \n  c", {}),
    ("a  \n  {%+ if true +%}  \n  b  \n  {%+ endif +%}\n  c", {}),
    ("a\n\t {% if true %}\n\t b\n\t {% endif %}\n\t c", {}),
    ("x {% if true %}y{% endif %} z\n  {% if true %} w {% endif %}\n", {}),
    ("  {{- 'v' -}}  \n  {{ 'w' }}\n{{ 'x' }}\n  {# c #}  \n  {#- c -#}  tail", {}),
    ("{% for i in [1, 2] %}\n  {{ i }}\n{% endfor %}\n{% for i in [1, 2] -%}\n  {{ i }}\n{%- endfor %}", {}),
    ("{% set x %}\n  body\n{% endset %}[{{ x }}]\n{% macro m() -%}\n  mac\n{%- endmacro %}[{{ m() }}]", {}),
    ("\n\n{% if true %}\n\n{% endif %}\n\n", {}),
    ("{{ 'a' }}\n{{ 'b' }}\n", {}),
    ("{%- if true -%}\n\n\n{%- endif -%}\nend", {}),
    ("{{ {'k': {'n': 1}} }}{{ {'k': {'n': 1}}['k']['n'] }}", {}),
    # Undefined and none in the corners templates hit.
    ("{{ missing }}|{{ missing|length }}|{{ missing|list }}|{{ missing|join(',') }}|{{ missing|string }}|{{ missing|trim }}|{{ missing|upper }}|{{ missing is iterable }}", {}),
    ("{% for x in missing %}no{% else %}else{% endfor %}|{{ 'a' in missing }}|{{ missing == missing2 }}|{{ not missing }}|{{ missing ~ 'x' }}", {}),
    ("{{ m.content is none }}{{ m.tool_calls is defined }}{{ m.get('tool_calls') is none }}{{ m.get('x', 'd') }}{{ m['nope'] is defined }}", {"m": {"content": None}}),
    ("{{ none is none }}{{ none }}{{ none|string }}{{ [none]|tojson }}{{ (none or 'x') }}", {}),
    ("{% if m.content is string %}s{% elif m.content is iterable %}i{% endif %}{% for b in m.content %}{{ b.type }}:{{ b.text }};{% endfor %}", {"m": {"content": [{"type": "text", "text": "hi"}, {"type": "image"}]}}),
    ("{{ 'héllo wörld'|upper }}{{ 'ÀB'|lower }}{{ 'héllo'|length }}{{ 'héllo'[1] }}{{ 'a\u00a0b'.split() }}", {}),
    ("{{ '  x  '|trim|length }}{{ '--x--'.strip('-') }}{{ 'éxé'.strip('é') }}{{ 'abc'.lstrip('ba') }}", {}),
    ("{{ 1 if true else 2 if false else 3 }}{{ [1, 2, 3][1] }}{{ [1, 2, 3].1 }}{{ (1, 2)[0] }}{{ 'x' ~ (1 + 2) ~ [1] }}", {}),
    ("{{ 5 > 3 and 2 < 1 or not false }}{{ 1 in [1] and 2 not in [1] }}{{ (1 == 1) == true }}{{ not 1 == 2 }}", {}),
    ("{{ 0.5 + 0.25 }}{{ 100.0 }}{{ 1.0e3 }}{{ 2.5e-7 }}{{ 123456789.123 }}{{ 1e100 }}{{ 12345678901234567.0 }}{{ 3 * 1.1 }}", {}),
    ("{{ x|tojson }}{{ y|tojson }}{{ z|tojson }}{{ [1.0, 2.5e-7, 1e22]|tojson }}", {"x": 1.0, "y": 0.1, "z": -3}),
    ("{{ tools|tojson(indent=4) }}", {"tools": [{"a": {"b": [], "c": {}, "d": [1, [2, {}]]}}]}),
    ("{% set ns = namespace(a=[]) %}{% set ns.a = ns.a + [1] %}{% set ns.a = ns.a + [2] %}{{ ns.a }}{% set d = {'k': ns} %}{{ d.k.a|length }}", {}),
    ("{% for i in range(3) %}{% set ns = namespace(v=i) %}{% endfor %}{{ ns is defined }}", {}),
    ("{%- set sys = messages[0]['content'] if messages[0]['role'] == 'system' else '' -%}[{{ sys }}]{% for m in messages[1:] %}{{ m.role[0]|upper }}{% endfor %}", {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]}),
    ("{{ messages|map(attribute='role')|join('/') }}{{ messages|map(attribute='missing', default='?')|join }}{{ messages|selectattr('role', 'in', ['user'])|list|length }}", {"messages": [{"role": "user"}, {"role": "assistant"}]}),
    ("{{ 'abc'|replace('', '-') }}{{ 'a b'|title }}{{ 'x'|center(4) }}|{{ 'a\nb'|indent(2) }}|{{ 'ab'|reverse }}", {}),
    # Error cases: the C++ side must raise as well.
    ("{{ raise_exception('custom failure') }}", {}),
    ("{{ missing.attr }}", {}),
    ("{{ 'a' + 1 }}", {}),
    ("{{ 1 / 0 }}", {}),
    ("{{ missing + 1 }}", {}),
    ("{{ none|tojson }}{{ missing|tojson }}", {}),
    ("{% for x in 5 %}{% endfor %}", {}),
    ("{{ messages.append(1) }}", {"messages": []}),
    ("{{ x|nosuchfilter }}", {}),
    ("{% if true %}unclosed", {}),
    ("{{ 1 + }}", {}),
    ("{% endfor %}", {}),
    ("{{ 'unterminated }}", {}),
    ("{% for %}{% endfor %}", {}),
    ("{{ (1 }}", {}),
    ("{% include 'x.jinja' %}", {}),
]


def language_cases(env):
    cases = []
    for source, context in LANGUAGE:
        case = {"template": source, "context": context}
        case.update(render(env, source, context))
        cases.append(case)
    return cases


def main():
    env = make_env()
    golden = {
        "generator": f"tests/reference/chat_template_make_fixture.py, jinja2 {jinja2.__version__}",
        "now_unix_seconds": NOW_UNIX,
        "conversations": CONVERSATIONS,
        "cases": golden_cases(env),
    }
    language = {
        "generator": golden["generator"],
        "now_unix_seconds": NOW_UNIX,
        "cases": language_cases(env),
    }
    (FIXTURES / "golden.json").write_text(json.dumps(golden, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (FIXTURES / "language.json").write_text(json.dumps(language, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    n_err = sum("error" in c for c in golden["cases"])
    print(f"golden: {len(golden['cases'])} cases ({n_err} expected errors); language: {len(language['cases'])} cases "
          f"({sum('error' in c for c in language['cases'])} expected errors)")


if __name__ == "__main__":
    main()
