import copy
import time
import tracemalloc

import pytest

from workflows.templating import TemplateInvalid, budget, environment, template_check, template_render

DIFF = "+ a changed line\n" * (500 * 1024 // 17)


@pytest.fixture
def context():
    return {
        "trigger": {
            "event": "pull_request",
            "action": "opened",
            "delivery_id": "d-1",
            "installation_id": 111,
            "repository": "acme/app",
            "sender": "octocat",
            "payload": {
                "installation": {"id": 111},
                "pull_request": {"number": 7, "title": "Fix", "id": 2876543210},
            },
        },
        "nodes": {"pr": {"diff": DIFF, "files": [{"filename": "a.py"}, {"filename": "b.py"}]}},
        "workflow": {"id": "w-1", "name": "Review", "version": 3},
    }


def refused_quickly(template, context) -> TemplateInvalid:
    started = time.monotonic()
    with pytest.raises(TemplateInvalid) as raised:
        template_render(template, context)
    assert time.monotonic() - started < 1.0
    return raised.value


def peak_memory_of(template, context) -> int:
    tracemalloc.start()
    try:
        with pytest.raises(TemplateInvalid):
            template_render(template, context)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


REWRITES = [
    "{{ trigger.update({'installation_id': 222, 'repository': 'victimorg/secret'}) or 'SECRET.md' }}",
    "{{ trigger.payload.installation.update({'id': 222}) }}",
    "{{ nodes.pr.update({'diff': 'forged'}) }}",
    "{{ nodes.pr.files.append({'filename': 'forged.py'}) }}",
    "{{ trigger.payload.pop('installation') }}",
    "{{ trigger|attr('update') }}",
    "{{ dict.update(trigger, {'installation_id': 222}) }}",
    "{% set write = trigger.__setitem__ %}{{ write('installation_id', 222) }}",
]


@pytest.mark.parametrize("template", REWRITES)
def test_a_template_cannot_rewrite_the_context_of_its_run(template, context):
    before = copy.deepcopy(context)

    refused_quickly(template, context)

    assert context == before
    assert template_render("{{ trigger.installation_id }} {{ trigger.repository }}", context) == "111 acme/app"


@pytest.mark.parametrize(
    "target, method, arguments",
    [
        ("trigger", "clear", ""),
        ("trigger", "setdefault", "'installation_id', 222"),
        ("trigger", "popitem", ""),
        ("trigger.payload", "update", "installation={'id': 222}"),
        ("nodes.pr.files", "extend", "[{'filename': 'x'}]"),
        ("nodes.pr.files", "insert", "0, {'filename': 'x'}"),
        ("nodes.pr.files", "sort", ""),
        ("nodes.pr.files", "reverse", ""),
        ("nodes.pr.files", "remove", "nodes.pr.files[0]"),
        ("nodes.pr.files", "pop", ""),
    ],
)
def test_mutating_methods_of_the_context_are_refused(target, method, arguments, context):
    before = copy.deepcopy(context)

    error = refused_quickly(f"{{{{ {target}.{method}({arguments}) }}}}", context)

    assert "unsafe" in str(error) and context == before


def test_a_hole_in_the_sandbox_would_change_only_the_renders_own_read_only_copy(context, monkeypatch):
    monkeypatch.setattr(environment.BoundedEnvironment, "is_safe_attribute", lambda self, obj, attr, value: True)
    before = copy.deepcopy(context)

    with pytest.raises(TemplateInvalid, match="read-only"):
        template_render("{{ trigger.update({'installation_id': 222}) }}", context)
    forged = template_render(
        "{{ dict.update(trigger, {'installation_id': 222}) }}{{ trigger.installation_id }}", context
    )

    assert forged == "None222"
    assert context == before


# Each passes the save-time check, which sees only names written in the template: the attribute
# is reached through a filter, a name built at run time, a format string, or one without a `_`.
# Without the sandbox each would reach a class, a module's globals or `eval`.
SANDBOX_ESCAPES = [
    "{{ (''|attr('__class__')).mro() }}",
    "{% set name = '__cla' ~ 'ss__' %}{{ trigger.action[name].mro() }}",
    "{{ '{0.__class__.__mro__}'.format(trigger) }}",
    "{{ '{0.__init__.__globals__[os].name}'.format(cycler) }}",
    "{% set globals = '__glo' ~ 'bals__' %}{{ (cycler|attr('__init__'))[globals].os.name }}",
    "{% set globals = '__glo' ~ 'bals__' %}{{ (self|attr('__init__'))[globals].sys.modules|length }}",
    "{{ (range(1)|map('string')).gi_frame.f_builtins.eval('6 * 7') }}",
]


@pytest.mark.parametrize("template", SANDBOX_ESCAPES)
def test_escapes_the_save_time_check_cannot_see_are_refused_by_the_sandbox(template, context):
    template_check(template)

    error = refused_quickly(template, context)

    assert "is unsafe" in str(error)


@pytest.mark.parametrize(
    "template",
    ["{% set seen = [] %}{{ seen.append(1) }}{{ seen }}", "{% set found = {} %}{{ found.update(a=1) }}{{ found }}"],
)
def test_a_template_cannot_change_even_the_values_it_built(template, context):
    assert "is unsafe" in str(refused_quickly(template, context))


def test_a_range_larger_than_the_sandbox_allows_is_refused(context):
    assert template_render("{{ range(100000)|length }}", context) == "100000"
    assert "Range too big" in str(refused_quickly("{{ range(100001)|length }}", context))


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'a' * 10**8 }}",
        "{{ [1] * 10**9 }}",
        "{{ 10 ** (10 ** 10) }}",  # `10 ** 10 ** 10` is (10 ** 10) ** 10 in Jinja: 101 digits, no attack
        "{% set ns = namespace(x=2) %}{% for i in range(60) %}{% set ns.x = ns.x * ns.x %}{% endfor %}",
        "{{ '{:>100000000}'.format(1) }}",
        "{{ '{:{}}'.format(1, 100000000) }}",
        "{{ '{a:>100000000}'.format_map({'a': 1}) }}",
        "{{ ('{:>100000000}'|attr('format'))(1) }}",
        "{{ ('{0}' * 100000).format('x' * 100000) }}",
        "{{ '%100000000d' % 1 }}",
        "{{ '%*d' % (100000000, 1) }}",
        "{{ '%.100000000f' % 1.0 }}",
        "{{ ('%(a)s' * 100000) % {'a': 'x' * 100000} }}",
        "{{ '%100000000d'|format(1) }}",
        "{{ 'x'|center(100000000) }}",
        "{{ 'x'.ljust(100000000) }}",
        "{{ 'x'.rjust(100000000) }}",
        "{{ '1'.zfill(100000000) }}",
        "{{ 5|round(-100000000) }}",
        "{{ 1|round(100000000, 'floor') }}",
        "{{ nodes.pr.diff|indent('x' * 1000) }}",
        "{{ nodes.pr.diff|wordwrap(1, wrapstring='x' * 1000) }}",
        "{{ range(100000)|join('x' * 100) }}",
        "{{ (['x' * 1000000] * 100000)|join }}",
        "{{ ('x' * 1000).replace('', 'y' * 100000) }}",
        "{{ ('\t' * 100000).expandtabs(1000000) }}",
        "{{ ('a' * 100000).translate({97: 'b' * 1000}) }}",
        "{{ ['x' * 1000000] * 100000 }}",
        "{{ (['x' * 1000000] * 100000)|tojson }}",
        "{{ [[[[[[[[[[1]]]]]]]]]]|tojson(indent=100000) }}",
        "{{ [1]|batch(1000000, 0)|list }}",
        "{{ ([[1]] * 100000)|sum(start=[]) }}",
        "{{ (1).to_bytes(100000000, 'big') }}",
        "{{ 'a'.encode() }}",
        "{{ ('x'|e).join([['y' * 1000000] * 100000]) }}",
        "{{ '%100000000d' is odd }}",
        "{{ (['x' * 1000000] * 100000) is lower }}",
    ],
)
def test_a_template_that_would_build_a_huge_value_is_refused_quickly(template, context):
    refused_quickly(template, context)


@pytest.mark.parametrize(
    "template",
    [
        "{% set ns = namespace(x='a') %}{% for i in range(60) %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}{{ ns.x }}",
        "{% set ns = namespace(x='a') %}{% for i in range(60) %}{% set ns.x = ns.x + ns.x %}{% endfor %}{{ ns.x }}",
        "{% set ns = namespace(x=[1]) %}{% for i in range(60) %}{% set ns.x = ns.x * 2 %}{% endfor %}{{ ns.x }}",
        "{% set ns = namespace(x='a') %}{% for i in range(60) %}{% set ns.x %}{{ ns.x }}{{ ns.x }}{% endset %}{% endfor %}",
        "{% filter upper %}{% for i in range(100000) %}{{ nodes.pr.diff }}{% endfor %}{% endfilter %}",
    ],
)
def test_doubling_a_value_in_a_loop_stops_at_the_cap(template, context):
    assert "would pass the limit" in str(refused_quickly(template, context))


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'a' * 10**8 }}",
        "{{ '{:>100000000}'.format(1) }}",
        "{{ '%100000000d' % 1 }}",
        "{% set ns = namespace(x='a') %}{% for i in range(60) %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}{{ ns.x }}",
        "{% for i in range(100000) %}{{ nodes.pr.diff }}{% endfor %}",
    ],
)
def test_a_refused_value_is_never_allocated(template, context):
    assert peak_memory_of(template, context) < 8 * 1024 * 1024


def test_keeping_copies_in_a_namespace_runs_out_of_budget_without_holding_them(context):
    keep_copies = (
        "{% set ns = namespace(kept=[]) %}"
        "{% for i in range(100000) %}{% set ns.kept = [ns.kept, nodes.pr.diff[1:]] %}{% endfor %}"
    )

    assert peak_memory_of(keep_copies, context) < 2 * budget.MAX_RENDER_BYTES
    assert "in all" in str(refused_quickly(keep_copies, context))


@pytest.mark.parametrize(
    "template",
    [
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% for f in range(100000)|list %}{% for g in range(100000)|list %}{{ '' }}{% endfor %}{% endfor %}",
    ],
)
def test_loops_are_bounded(template, context):
    assert "loops run more than" in str(refused_quickly(template, context))


# Two megabyte strings that differ at their last character, referenced two thousand times by a list.
MANY_REFERENCES = (
    "{% set x = 'a' * 1000000 %}{% set y = 'a' * 999999 ~ 'b' %}{% set many = [" + ", ".join(["x", "y"] * 1000) + "] %}"
)


@pytest.mark.parametrize(
    "reading",
    [
        "{{ many|sort }}",
        "{{ many|unique|list }}",
        "{{ many|max }}",
        "{{ ('a' * 999999 ~ 'c') in many }}",
        "{{ many == many|list }}",
        "{{ many|select('equalto', y)|list }}",
        "{{ 'a' is in many }}",
    ],
)
def test_reading_many_references_to_a_long_string_is_refused(reading, context):
    # Building the list costs a reference an item; sorting or searching it would compare megabytes each time.
    assert "would pass the limit" in str(refused_quickly(MANY_REFERENCES + reading, context))


def test_a_key_is_looked_up_in_a_large_payload_without_reading_it(context):
    context["trigger"]["payload"]["commits"] = [{"message": "m" * 1000}] * 2000
    lookups = "{{ 'commits' in trigger.payload }} {{ 'x' in trigger.payload.commits[0] }}"

    assert template_render(lookups, context) == "True False"


def test_a_render_that_takes_too_long_is_stopped(context, monkeypatch):
    monkeypatch.setattr(budget, "MAX_RENDER_SECONDS", 0.05)
    compare_diffs = (
        "{% set copy = nodes.pr.diff ~ '' %}"
        "{% for i in range(100000) %}{% if nodes.pr.diff == copy %}{% endif %}{% endfor %}"
    )

    assert "takes longer than" in str(refused_quickly(compare_diffs, context))


@pytest.mark.parametrize(
    "template",
    [
        "{% macro boom() %}{{ boom() }}{{ boom() }}{% endmacro %}{{ boom() }}",
        "{% for x in [1] recursive %}{{ loop([1, 1]) }}{% endfor %}",
    ],
)
def test_recursion_is_refused_at_save_time_and_at_run_time(template, context):
    with pytest.raises(TemplateInvalid):
        template_check(template)
    refused_quickly(template, context)


def test_rendering_stops_as_soon_as_the_text_passes_the_cap(context):
    error = refused_quickly("{% for i in range(100000) %}{{ nodes.pr.diff }}{% endfor %}", context)

    assert str(error) == "the rendered text would pass the limit of 1048576 characters"


def test_the_cap_is_a_setting(context, settings):
    settings.WORKFLOW_TEMPLATE_MAX_CHARS = 100

    assert template_render("{{ 'x' * 100 }}", context) == "x" * 100
    refused_quickly("{{ 'x' * 101 }}", context)
    refused_quickly("{{ nodes.pr.diff }}", context)


@pytest.mark.parametrize(
    "template, rendered",
    [
        ("{{ trigger.payload.pull_request.number }}", "7"),
        ("{% for f in nodes.pr.files %}{{ f.filename }}\n{% endfor %}", "a.py\nb.py\n"),
        ("{{ 'x' * 3 }}", "xxx"),
        ("{{ 2 ** 10 }}", "1024"),
        ("{{ 10 ** 10 ** 10 }}", str(10**100)),
        ("{{ nodes.pr.files|tojson }}", '[{"filename": "a.py"}, {"filename": "b.py"}]'),
        ("{{ nodes.pr.files|length }}", "2"),
        ("{{ nodes.pr.files|map(attribute='filename')|join(', ') }}", "a.py, b.py"),
        ("{{ nodes.pr.diff|truncate(20) }}", "+ a changed..."),
        ("{{ nodes.pr.missing|default('') }}", ""),
        ("{{ trigger.repository ~ '#' ~ trigger.payload.pull_request.number }}", "acme/app#7"),
        ("{{ '%s has %d files'|format(trigger.repository, nodes.pr.files|length) }}", "acme/app has 2 files"),
        ("{{ '{} by {}'.format(trigger.payload.pull_request.title, trigger.sender) }}", "Fix by octocat"),
        ("{{ '%-6s|' % trigger.action }}", "opened|"),
        (
            "{{ trigger.payload.pull_request.id|string }} {{ '{}'.format(trigger.payload.pull_request.id) }}",
            "2876543210 2876543210",
        ),
        ("{{ nodes.pr.count|default(5000000) }}", "5000000"),
        ("{{ 1234.5678|round(2) }}", "1234.57"),
        ("{{ nodes.pr.diff[:6] }}", "+ a ch"),
        ("{{ nodes.pr.diff.splitlines()|length }}", str(DIFF.count("\n"))),
        (
            "{% set ns = namespace(n=0) %}{% for f in nodes.pr.files %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}",
            "2",
        ),
        ("{% set title %}PR {{ trigger.payload.pull_request.number }}{% endset %}{{ title|upper }}", "PR 7"),
        ("{% set key = 'pr' %}{{ nodes[key].files[0].filename }}", "a.py"),
        ("{{ workflow.name }} v{{ workflow.version }}", "Review v3"),
    ],
)
def test_legitimate_templates_still_render(template, rendered, context):
    assert template_render(template, context) == rendered


def test_a_500_kib_diff_passes_through(context):
    params = {"prompt": "Review:\n{{ nodes.pr.diff }}", "max_tokens": 500, "notes": ["{{ nodes.pr.diff|length }}"]}

    rendered = template_render(params, context)

    assert rendered == {"prompt": "Review:\n" + DIFF, "max_tokens": 500, "notes": [str(len(DIFF))]}


@pytest.mark.parametrize(
    "template, reason",
    [
        ("{% macro m() %}x{% endmacro %}{{ m() }}", "may not use {% macro %}"),
        ("{% call m() %}x{% endcall %}", "may not use {% call %}"),
        ("{% include 'other' %}", "may not use {% include %}"),
        ("{% import 'other' as other %}", "may not use {% import %}"),
        ("{% from 'other' import m %}", "may not use {% from … import %}"),
        ("{% extends 'base' %}", "may not use {% extends %}"),
        ("{% block body %}x{% endblock %}", "may not use {% block %}"),
        ("{% for x in [1] recursive %}{{ loop([]) }}{% endfor %}", "recursive loop"),
        ("{% autoescape true %}{{ trigger.action }}{% endautoescape %}", "may not use {% autoescape %}"),
        ("{{ 'example.com'|urlize }}", "unknown filter 'urlize'"),
        ("{% if 1 is prime %}{% endif %}", "unknown test 'prime'"),
        ("{{ trigger._secret }}", "private attribute"),
    ],
)
def test_constructs_a_parameter_has_no_use_for_are_refused_at_save_time(template, reason):
    with pytest.raises(TemplateInvalid) as raised:
        template_check(template)

    assert reason in str(raised.value)


@pytest.mark.parametrize(
    "template",
    [
        "{{ nodes.pr.diff }}",
        "{% for f in nodes.pr.files if f.filename.endswith('.py') %}{{ loop.index }}{% endfor %}",
        "{% set ns = namespace(n=0) %}{% set ns.n = ns.n + 1 %}{{ ns.n }}",
        "{% filter upper %}{{ trigger.action }}{% endfilter %}",
        "{% if trigger.action is defined %}{{ trigger.action|default('none') }}{% endif %}",
    ],
)
def test_ordinary_templates_pass_the_save_time_check(template):
    template_check(template)
