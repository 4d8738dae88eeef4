"""Default policy of the throw-away service."""

from litestack.common.policy import RuleDefault

RULES = [
    RuleDefault("toy:list_notes", "role:reader and project_id:%(project_id)s", "List the project's notes.",
                scope_types=["project"], operations=[{"method": "GET", "path": "/v1/notes"}]),
    RuleDefault("toy:create_note", "role:member and project_id:%(project_id)s", "Add a note to the project.",
                scope_types=["project"], operations=[{"method": "POST", "path": "/v1/notes"}]),
]
