#!/bin/bash
# Turn a JupyterLab environment into a learner's: nbgrader's Validate button stays,
# its instructor tools (Formgrader, Course List, Create Assignment) and, unless
# asked to keep it, its Assignment List are switched off, in the browser (the lab
# plugins, through JupyterLab's page_config.json) and on the server (the server
# extensions behind them).
#
#   bash binder/learner-lab.sh                          # Binder, or a course run through an LMS
#   bash binder/learner-lab.sh --keep-assignment-list   # JupyterHub with nbgrader's exchange:
#                                                       # students fetch and submit there
#
# Run it with the environment's own `jupyter` first on PATH (a Dockerfile's RUN
# step, or Binder's postBuild): it writes to that environment's settings
# (--sys-prefix), so every user of the image gets them and none can lose them by
# resetting their own. Running it twice changes nothing.
set -euo pipefail

keep_assignment_list=false
for arg in "$@"; do
  case "$arg" in
    --keep-assignment-list) keep_assignment_list=true ;;
    *) echo "learner-lab.sh: unknown option $arg (the only one is --keep-assignment-list)" >&2
       exit 2 ;;
  esac
done

plugins=(formgrader course-list create-assignment)
servers=(formgrader course_list)
if [ "$keep_assignment_list" = false ]; then
  # The Nbgrader menu lists only the instructors' tools and the Assignment List.
  plugins+=(assignment-list menu)
  servers+=(assignment_list)
fi

ids=("${plugins[@]/#/@jupyter/nbgrader:}")
jupyter labextension disable --level=sys_prefix "${ids[@]}"
# Locked, too: JupyterLab's plugin manager would otherwise let anyone switch them back on.
jupyter labextension lock --level=sys_prefix "${ids[@]}"
for server in "${servers[@]}"; do
  jupyter server extension disable --sys-prefix "nbgrader.server_extensions.$server"
done
