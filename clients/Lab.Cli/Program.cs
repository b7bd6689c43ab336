using System.CommandLine;
using Lab.Cli;
using Lab.Load.Cli;

// The load client reaches wrk's rates only with socket completions run inline; the switch is read once, at the
// first socket use, and affects the whole process, so it is set only when this process runs nothing but `load`.
if (args.FirstOrDefault() == "load")
{
    LoadCommandFactory.UseInlineSocketCompletions();
}

// Ctrl+C and SIGTERM cancel the running command, which then stops every process it started; the default
// 2 s grace would cut that short and leave children behind.
return await LabCommands.CreateRoot().Parse(args).InvokeAsync(new InvocationConfiguration
{
    ProcessTerminationTimeout = TimeSpan.FromSeconds(30),
});
