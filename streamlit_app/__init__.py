"""Web UI (Streamlit) and the `roadmap` command line: the two front ends over survey, analysis and storage."""
