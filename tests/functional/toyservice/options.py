"""Options of the throw-away service."""

from litestack.common.config import Option, register_section

TOY = register_section("toy", "The throw-away service of the test suite.", [
    Option("max_notes", int, 100, "Notes a project may keep.", minimum=0),
])
