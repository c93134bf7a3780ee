-- Run by tusk on every apply in the `rag` database: keep it idempotent.
CREATE TABLE IF NOT EXISTS embeddings (id serial primary key, content text, embedding vector(768), metadata jsonb);
