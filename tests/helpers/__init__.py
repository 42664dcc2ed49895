"""What tests share, imported explicitly (`from tests.helpers.requests import file_request`);
conftest.py holds fixtures only.

    accounts     PASSWORD, make_user
    clients      FormClient (posts forms with the page's CSRF token, signs in through the real
                 form), signed_in, page_text, page_without_csrf_tokens
    database     the test database: TEST_DATABASE_URL, the PostgreSQL schema, base_test_config,
                 app_on_test_database, raw_sql
    images       real images made with Pillow, and hand-built PNG bytes
    import_lines review records as import-marketplace and the API take them, and the refused ones
    marketplace  reviews through the real import service, and changes to them
    queue        requests written as rows with every column the staff queue shows under control;
                 cursors a client might tamper with
    requests     deletion requests: filed and answered through the seller's forms, or written
                 straight to the database (a status, a holder, a question) for states the UI cannot
                 reach
    s3           TEST_EVIDENCE_STORAGE: each test's evidence under a prefix of its own in S3
    stored       what the database and the evidence store hold: row counts, detached rows, audit
                 events, stored files
"""
