"""A document's own files: 附件 (forms, sheets, signed PDFs) and the pictures its body shows.

`inspect` decides by content what an upload is and refuses what could harm a reader; `extract`
reads the text search indexes from an attachment.
"""
