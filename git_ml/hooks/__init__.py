"""Installers: git hooks and each assistant's hook settings. What runs on a hook lives in capture/."""
