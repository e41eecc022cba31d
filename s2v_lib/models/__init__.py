"""Neural networks of the study, one model per file."""
