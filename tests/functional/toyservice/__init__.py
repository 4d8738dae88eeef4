"""A throw-away service that exists only in the test suite.

It proves that adding a service is one package plus one registry line: the functional test
``test_service_registry.py`` names it in ``[DEFAULT] service_plugins`` (the operator's registry
line; no file of litestack changes) and checks that ``litestack up`` serves it under its path,
lists it in the catalog and in ``status``, dumps its policy and runs its migrations.
"""
