"""Default policy of the placement service, as placement's 2023+ defaults (``placement/policies``).

Rule names are placement's own, so an operator's placement ``policy.yaml`` applies unchanged.
Almost everything is for the cloud's admin or for services (the compute scheduler and agents,
holding the ``service`` role); a project reader may read its own project's usages. Placement has
no project-owned resources, so nothing else is filtered by project.
"""

from __future__ import annotations

from litestack.common.api.policy import with_operations
from litestack.common.policy import RuleDefault
from litestack.placement.api import op_table

PROJECT = ["project"]
ADMIN_OR_SERVICE = "rule:admin_or_service_api"

_RULES = {
    "resource_providers:list": "List resource providers.",
    "resource_providers:create": "Create a resource provider.",
    "resource_providers:show": "Show a resource provider.",
    "resource_providers:update": "Update a resource provider.",
    "resource_providers:delete": "Delete a resource provider.",
    "resource_providers:inventories:list": "List a provider's inventories.",
    "resource_providers:inventories:create": "Create an inventory of one resource class.",
    "resource_providers:inventories:show": "Show an inventory of one resource class.",
    "resource_providers:inventories:update": "Update a provider's inventories.",
    "resource_providers:inventories:delete": "Delete a provider's inventories.",
    "resource_providers:aggregates:list": "List a provider's aggregates.",
    "resource_providers:aggregates:update": "Replace a provider's aggregates.",
    "resource_providers:traits:list": "List a provider's traits.",
    "resource_providers:traits:update": "Replace a provider's traits.",
    "resource_providers:traits:delete": "Remove a provider's traits.",
    "resource_providers:allocations:list": "List a provider's allocations.",
    "resource_providers:usages": "Show a provider's usages.",
    "allocations:list": "Show a consumer's allocations.",
    "allocations:manage": "Write several consumers' allocations (POST /allocations).",
    "allocations:update": "Replace a consumer's allocations.",
    "allocations:delete": "Delete a consumer's allocations.",
    "allocation_candidates:list": "List allocation candidates.",
    "resource_classes:list": "List resource classes.",
    "resource_classes:create": "Create a custom resource class.",
    "resource_classes:show": "Show a resource class.",
    "resource_classes:update": "Create or rename a custom resource class.",
    "resource_classes:delete": "Delete a custom resource class.",
    "traits:list": "List traits.",
    "traits:show": "Check that a trait exists.",
    "traits:update": "Create a custom trait.",
    "traits:delete": "Delete a custom trait.",
}

_DEFAULTS: list[RuleDefault] = [
    RuleDefault("admin_api", "role:admin", "Default rule for most placement APIs.", scope_types=PROJECT),
    RuleDefault("service_api", "role:service", "Default rule for service-to-service placement APIs.",
                scope_types=PROJECT),
    RuleDefault("admin_or_service_api", "role:admin or role:service", "Default rule for most placement APIs.",
                scope_types=PROJECT),
    RuleDefault("project_reader_api", "role:reader and project_id:%(project_id)s",
                "Default rule for project level reader APIs."),
    RuleDefault("admin_or_project_reader_or_service_api", "role:admin or rule:project_reader_api or role:service",
                "Default rule for project level reader APIs.", scope_types=PROJECT),
    *(RuleDefault(f"placement:{name}", ADMIN_OR_SERVICE, desc, scope_types=PROJECT) for name, desc in _RULES.items()),
    RuleDefault("placement:usages", "rule:admin_or_project_reader_or_service_api",
                "Show a project's (or user's) usages.", scope_types=PROJECT),
    RuleDefault("placement:reshaper:reshape", "rule:service_api",
                "Move inventories and allocations between providers atomically.", scope_types=PROJECT),
]

#: The placement rules, each with the operations of the routes that check it (from the Op table).
RULES: list[RuleDefault] = with_operations(_DEFAULTS, op_table())
