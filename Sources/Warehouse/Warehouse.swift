// Warehouse: PostgreSQL migrations, loads and models (see Migrations.swift, Loader.swift, Models.swift).
