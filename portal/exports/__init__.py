"""Excel exports and the offline questionnaire round trip (issue 6).

``workbook`` (safe cells, styles, write-only table sheets), ``columns``, ``profile_workbook``,
``questionnaire`` and ``list_exports`` are pure builders; ``importer`` checks and parses uploads
(pure); ``queries`` and ``services`` touch the database; ``routes`` holds the blueprint and the
``flask export`` commands; ``permissions`` the named predicates; ``models`` the pending imports.
"""
