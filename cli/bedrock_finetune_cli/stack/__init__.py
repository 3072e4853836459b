"""Commands for a deployed stack: ``submit``, ``sweep``, ``retrain``, ``retire``, ``runs``, ``status``, ``report``.

:mod:`.commands` builds their parsers without importing boto3; the modules that call AWS (:mod:`.aws`,
:mod:`.submit`, :mod:`.start`, :mod:`.runs`, :mod:`.follow`) are imported when one of these commands runs.
"""
