"""The packages to install, found where they are: the deployed ones (jobs, udfs, and the generated
streamsuite_proto under proto/) and, in a checkout, the dev tooling (streamsuite, with its `streamsuite`
command). The image copies no streamsuite/, so installing it there gives the jobs and nothing else.
Everything else about the distribution is in setup.cfg."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
DEV_TOOLING = (HERE / "streamsuite").is_dir()

setup(
    packages=(find_packages(str(HERE), include=["jobs", "udfs", "streamsuite", "streamsuite.*"])
              + find_packages(str(HERE / "proto"), include=["streamsuite_proto", "streamsuite_proto.*"])),
    package_dir={"streamsuite_proto": "proto/streamsuite_proto"},
    entry_points={"console_scripts": ["streamsuite = streamsuite.cli:main"]} if DEV_TOOLING else {},
)
