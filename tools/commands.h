/*
 * The subcommands of the privfl tool. Each is int fn(int argc, char **argv)
 * with argv[0] the subcommand name, returning a process exit code
 * (0 success, 1 failure, 2 usage). Declared weak so the tool builds while a
 * module's commands are still missing; main.c reports those as unavailable.
 */
#ifndef PRIVFL_TOOL_COMMANDS_H
#define PRIVFL_TOOL_COMMANDS_H

#define PFL_TOOL_CMD(name) int name(int argc, char **argv) __attribute__((weak))

PFL_TOOL_CMD(pfl_cmd_model);       /* model train|eval|info|export (model/) */
PFL_TOOL_CMD(pfl_cmd_data);        /* data stats: CSV preprocessing (model/) */
PFL_TOOL_CMD(pfl_cmd_accountant);  /* accountant (privacy/) */
PFL_TOOL_CMD(pfl_cmd_keygen);      /* keygen (crypto/) */
PFL_TOOL_CMD(pfl_cmd_fingerprint); /* fingerprint (crypto/) */
PFL_TOOL_CMD(pfl_cmd_certs);       /* certs: quick-start TLS CA (proto/) */
PFL_TOOL_CMD(pfl_cmd_audit);       /* audit verify (aggregator/) */
PFL_TOOL_CMD(pfl_cmd_enroll_authority); /* enroll-authority (crypto/) */
PFL_TOOL_CMD(pfl_cmd_enroll);           /* enroll (crypto/) */
PFL_TOOL_CMD(pfl_cmd_enroll_verify);    /* enroll-verify (crypto/) */

#endif
