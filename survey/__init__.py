"""Survey instruments: definitions, validation, branching logic, importers and exporters. No Streamlit, no database."""
