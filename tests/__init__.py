"""The test suite, laid out like the package it tests.

    conftest.py     fixtures only: the migrated database, app, client, runner, users, signed-in clients
    helpers/        what tests share: accounts and sign-in, clients, images, marketplace data,
                    deletion requests, the test database, and reading what was stored
    services/       the rules, called directly inside an app context (no HTTP), one folder per area
                    of moderation_app/services: requests/, queue/, evidence/, audit/, marketplace/
    views/          through the HTTP stack with the test client, one folder per blueprint
                    (auth/, seller/, staff/, evidence/, audit/); app-wide concerns (the access
                    table, security events, a database outage) at the top of views/
    cli/            `flask …` commands through the CLI runner, as moderation_app/cli/
    harness/        the long runs, each with its own marker: the SIGKILL fault run (faults), the
                    hostile upload corpus (hostile), Hypothesis properties (properties), Chromium
                    (browser)
    test_app.py     the factory, settings, what every response carries, models against migrations
"""
