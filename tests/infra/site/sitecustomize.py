"""Loaded by Python at start-up in processes the test session spawns (PYTHONPATH): when
HERALD_QUERY_LOG is set, records Firestore query shapes once google.cloud.firestore_v1
is imported. Never raises: a process must start exactly as without it."""

import os
import sys

if os.environ.get("HERALD_QUERY_LOG"):
    try:
        import importlib.abc
        import importlib.util

        class _After(importlib.abc.MetaPathFinder):
            """Installs the recorder right after firestore_v1.base_query is imported."""

            def find_spec(self, name, path=None, target=None):  # type: ignore[no-untyped-def]
                if name != "google.cloud.firestore_v1.base_query":
                    return None
                sys.meta_path.remove(self)
                spec = importlib.util.find_spec(name)
                if spec is None or spec.loader is None:
                    return spec
                loader = spec.loader
                exec_module = loader.exec_module

                def exec_and_hook(module):  # type: ignore[no-untyped-def]
                    exec_module(module)
                    try:
                        root = os.path.dirname(
                            os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
                        )
                        if root not in sys.path:
                            sys.path.append(root)
                        from tests.infra.query_log import install_file_log

                        install_file_log(os.environ["HERALD_QUERY_LOG"])
                    except Exception:  # noqa: S110
                        pass

                loader.exec_module = exec_and_hook  # type: ignore[method-assign]
                return spec

        sys.meta_path.insert(0, _After())
    except Exception:  # noqa: S110
        pass
