"""Through the HTTP stack with the test client: one folder per blueprint, app-wide concerns here."""
