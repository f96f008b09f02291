"""The database: models, engines, transactions, migrations."""
