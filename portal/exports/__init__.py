"""Excel exports and the offline round trips (issue 6): the partner's questionnaire, and the visit
workbook whose on-site verification a validation team imports.

``workbook`` (safe cells, styles, write-only table sheets), ``columns``, ``profile_workbook``,
``questionnaire`` and ``list_exports`` are pure builders; ``xlsx_upload`` (the zip guard and safe
reading shared by both imports), ``importer`` (questionnaires) and ``visit_import`` (visit workbooks)
check and parse uploads (pure); ``queries``, ``services`` and ``visit_services`` touch the database;
``routes`` holds the blueprint, ``cli`` the ``flask export`` commands, ``visit_routes`` a validation's
on-site verification pages; ``permissions`` the named predicates; ``models`` the pending imports.
"""
