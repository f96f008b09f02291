"""The operations on the database: one module per part of the domain; they never commit."""
