"""Options of the throw-away service."""

from litestack.common.config import Option, register_section

TOY = register_section("toy", "The throw-away service of the test suite.", [
    Option("max_text_length", int, 255, "Characters a note may hold.", minimum=1),
])
