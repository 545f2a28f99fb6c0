"""The territory plan as a model: file format, criteria language, evaluation, access, targets. Pure."""
