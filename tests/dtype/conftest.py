"""pandas' own extension-array fixtures (operators, reductions, boxes), for the conformance suite.

pandas ships its ExtensionArray test suite (``pandas.tests.extension.base``); its fixtures live in
pandas' conftest modules, which are not plugins here, so they are re-exported by name.
"""

import pandas.conftest as _pandas_conftest
import pandas.tests.extension.conftest as _extension_conftest


def _is_fixture(obj: object) -> bool:
    return type(obj).__name__ == "FixtureFunctionDefinition" or hasattr(obj, "_pytestfixturefunction")


for _module in (_pandas_conftest, _extension_conftest):
    for _name in dir(_module):
        if not _name.startswith("_") and _is_fixture(getattr(_module, _name)):
            globals()[_name] = getattr(_module, _name)
