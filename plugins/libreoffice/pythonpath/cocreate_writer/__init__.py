"""cocreate for LibreOffice Writer: continue at the cursor, variants of a selection, N candidates streamed.

    commands.py    the vnd.cocreate.writer: URLs and which can run now          (plain)
    state.py       what the panel shows, and how a job's events change it      (plain)
    shape.py       a candidate as the document will hold it: paragraphs, formats (plain)
    controller.py  one document's co-creation: requests, picks, feedback       (plain)
    document.py    the Writer text API: cursor, selection, insert as one undo step
    panel.py       the non-modal candidate dialog
    threads.py     the main thread (AsyncCallback) and a worker thread
    dispatch.py    the UNO protocol handler and one session per open document

The plain modules import neither uno nor the host, so tests run them with fakes.
"""

try:
    import cocreate_client  # noqa: F401  (shipped beside this package in the .oxt)
except ImportError as error:
    raise ImportError(
        "cocreate for Writer needs cocreate_client in the extension's pythonpath/; "
        "install the .oxt that `cocreate plugins build libreoffice` makes"
    ) from error
