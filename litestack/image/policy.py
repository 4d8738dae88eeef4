"""Default policy of the image service, as Glance's 2024 defaults (``glance/policies``).

Rule names are Glance's own (``get_image``, ``add_member``...), so an operator's Glance
``policy.yaml`` applies unchanged. Targets carry Glance's keys: ``project_id`` and ``owner`` are
the image's owner, ``visibility`` its visibility, ``member_id`` the caller's project when it is a
member of the image (or, for member routes, the member the path names). Which images a caller can
see at all is decided before the rule (another project's private image is 404, as in Glance's
database layer); the routes that check each rule come from the Op table.
"""

from __future__ import annotations

from litestack.common.api.policy import with_operations
from litestack.common.policy import RuleDefault
from litestack.image.api import op_table

PROJECT = ["project"]

ADMIN = "rule:context_is_admin"
PROJECT_MEMBER = "role:member and project_id:%(project_id)s"
PROJECT_READER = "role:reader and project_id:%(project_id)s"
IMAGE_MEMBER = "project_id:%(member_id)s"
VISIBLE = ("project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s "
           "or 'public':%(visibility)s or 'shared':%(visibility)s")
ADMIN_OR_MEMBER = f"{ADMIN} or ({PROJECT_MEMBER})"
ADMIN_OR_READER = f"{ADMIN} or ({PROJECT_READER})"


def _rule(name: str, check: str, desc: str) -> RuleDefault:
    return RuleDefault(name, check, desc, scope_types=PROJECT)


_DEFAULTS: list[RuleDefault] = [
    RuleDefault("default", "", "The rule of policies an operator's file names without a check."),
    RuleDefault("context_is_admin", "role:admin", "The cloud administrator (Glance's is_admin)."),
    RuleDefault("service_api", "role:service or role:admin", "Service-to-service calls."),
    _rule("add_image", f"{ADMIN} or ({PROJECT_MEMBER} and project_id:%(owner)s)", "Create an image."),
    _rule("get_image", f"{ADMIN} or (role:reader and ({VISIBLE}))", "Show an image."),
    _rule("get_images", ADMIN_OR_READER, "List images."),
    _rule("modify_image", ADMIN_OR_MEMBER, "Update an image (and its tags)."),
    _rule("publicize_image", ADMIN, "Make an image public."),
    _rule("communitize_image", ADMIN_OR_MEMBER, "Make an image a community image."),
    _rule("delete_image", ADMIN_OR_MEMBER, "Delete an image."),
    _rule("download_image", f"{ADMIN} or (role:member and ({VISIBLE}))", "Download an image's data."),
    _rule("upload_image", ADMIN_OR_MEMBER, "Upload an image's data."),
    _rule("deactivate", ADMIN_OR_MEMBER, "Deactivate an image."),
    _rule("reactivate", ADMIN_OR_MEMBER, "Reactivate an image."),
    _rule("delete_image_location", ADMIN, "Delete an image's data from one store."),
    _rule("add_member", ADMIN_OR_MEMBER, "Share an image with a project."),
    _rule("delete_member", ADMIN_OR_MEMBER, "Stop sharing an image with a project."),
    _rule("get_member", f"{ADMIN} or role:reader and (project_id:%(project_id)s or {IMAGE_MEMBER})",
          "Show an image member."),
    _rule("get_members", f"{ADMIN} or role:reader and (project_id:%(project_id)s or {IMAGE_MEMBER})",
          "List an image's members."),
    _rule("modify_member", f"{ADMIN} or (role:member and {IMAGE_MEMBER})",
          "Accept or reject an image shared with the caller's project."),
    _rule("copy_image", ADMIN, "Copy an existing image's data to other stores (import copy-image)."),
    _rule("tasks_api_access", ADMIN, "Use the tasks API (show a task)."),
    RuleDefault("stores_info_detail", f"{ADMIN} or rule:service_api", "Show the stores' details.",
                scope_types=PROJECT),
    _rule("get_usage", ADMIN_OR_READER, "Show the project's image quota usage."),
]

#: The image rules, each with the operations of the routes that check it (from the Op table).
RULES: list[RuleDefault] = with_operations(_DEFAULTS, op_table())
