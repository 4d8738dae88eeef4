"""The compute service's logic over its database, in parts (flavors, key pairs, servers, quotas)."""
