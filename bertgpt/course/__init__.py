"""The course around the code: the lessons (English and Korean), their printable export,
and the figures the app and the lessons draw."""
