"""Templates in node parameters: Jinja2's immutable sandbox with strict undefined, over a read-only
copy of the run's context (`trigger`, `nodes.<id>`, `workflow`). A missing variable fails the step
and names it.

A template is code from a user, run in a worker, so it is also held to a cost:
- Every operation that can build something larger than its inputs (`*`, `**`, `+`, `%`, `~`,
  `.format`, filters, method calls, captured blocks) is checked before it runs, from the sizes of
  its operands, and refused when what it builds would pass the cap (WORKFLOW_TEMPLATE_MAX_CHARS,
  one MiB by default); what it built is measured again after. No string a template builds or
  renders is longer than the cap (escaping can grow one a few times over, for a moment, before it
  is measured), and no list it builds holds more than a cap's worth of references.
- Printing a value, and comparing, sorting or searching containers, first checks that they print
  within the cap: many references to one long string are cheap to build, not to read.
- The memory of what one render builds is paid for from MAX_RENDER_BYTES; its loops may run
  MAX_LOOP_ITERATIONS times in all; it must finish within MAX_RENDER_SECONDS.
- Macros, call blocks, includes, imports, template inheritance, recursive loops and `autoescape`
  are refused: a parameter has no use for them, and they repeat work without a loop or compute
  at compile time.
"""

from workflows.templating.render import TemplateInvalid, template_check, template_render, template_strings

__all__ = ["TemplateInvalid", "template_check", "template_render", "template_strings"]
