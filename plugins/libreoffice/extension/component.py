"""What LibreOffice loads (see cocreate.components): the protocol handler of vnd.cocreate.writer: URLs.

The extension's pythonpath/ folder, beside this file, is on sys.path when this runs; it holds
cocreate_writer (the plugin) and cocreate_client (the daemon client with its pure-Python dependencies).
"""

import unohelper
from cocreate_writer.dispatch import ProtocolHandler

g_ImplementationHelper = unohelper.ImplementationHelper()
g_ImplementationHelper.addImplementation(ProtocolHandler, ProtocolHandler.IMPLEMENTATION, ProtocolHandler.SERVICES)
