"""Operations on records shared by the API, the CLI and workers."""
