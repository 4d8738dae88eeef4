"""Default policy of object storage: Swift's keystoneauth, as rules.

A project's members (and the admin role) use its account ``AUTH_<project_id>``; readers may read
it; the ``ResellerAdmin`` role may use every account. Another project's account is 403, as Swift
answers, unless an ACL lets the caller in (``object:acl_access``).
"""

from litestack.common.api.policy import with_operations
from litestack.common.policy import RuleDefault
from litestack.object.proxy import op_table

READ = "(role:reader and project_id:%(project_id)s) or role:ResellerAdmin"
WRITE = "(role:member and project_id:%(project_id)s) or (role:admin and project_id:%(project_id)s) " \
        "or role:ResellerAdmin"

_RULES = [
    ("get_account", READ, "Show an account's metadata and list its containers."),
    ("post_account", WRITE, "Set or remove an account's metadata."),
    ("get_container", READ, "Show a container's metadata and list its objects."),
    ("put_container", WRITE, "Create a container or update its metadata."),
    ("post_container", WRITE, "Set or remove a container's metadata."),
    ("delete_container", WRITE, "Delete an empty container."),
    ("get_object", READ, "Download an object or show its metadata."),
    ("put_object", WRITE, "Upload an object."),
    ("post_object", WRITE, "Replace an object's metadata."),
    ("delete_object", WRITE, "Delete an object."),
]

_DEFAULTS = [RuleDefault(f"object:{name}", check, desc, scope_types=["project"]) for name, check, desc in _RULES]
# Checked instead of the rules above when a container or account ACL, a TempURL or a FormPost
# signature admits the caller (``middleware/acl.py`` decides from them; "!" turns ACLs off).
_DEFAULTS.append(RuleDefault("object:acl_access", "@", "A request an ACL, a TempURL or a FormPost signature "
                             "allows, by a caller that does not own the account (or without a token)."))
#: With the routes each rule guards, read from the proxy's Op table (``policy dump`` shows them).
RULES: list[RuleDefault] = with_operations(_DEFAULTS, op_table())
