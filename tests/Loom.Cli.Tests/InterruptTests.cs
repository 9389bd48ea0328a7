using System.Diagnostics;
using Loom.Core.Tensors;
using Loom.Models.Architectures;
using Loom.Models.Synthetic;

namespace Loom.Cli.Tests;

/// <summary>Ctrl+C during generation ends `loom run` as the shell expects: one line, exit 130, no stack trace.</summary>
public class InterruptTests
{
    [Fact]
    public async Task CtrlCDuringGenerationIsOneLineAndExit130()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return; // SIGINT is sent with kill(1)
        using var dir = new TempDir();
        var model = dir.File("long.gguf");
        // A long context, so generation is still running when the signal comes.
        SyntheticModel.Write(model, SyntheticModelSpec.Tiny with { ContextLength = 1 << 16 }, GgmlType.F32);
        string loom = typeof(Loom.Cli.CliErrors).Assembly.Location;
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "exec", loom, "run", "-m", model, "-p", "Once", "-n", "60000", "--ignore-eos", "-t", "1" }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        // Wait for the first generated text, then interrupt.
        var buffer = new char[16];
        Assert.True(await p.StandardOutput.ReadAsync(buffer) > 0, "no output before the interrupt");
        using (var kill = Process.Start("kill", ["-INT", p.Id.ToString()])!) await kill.WaitForExitAsync();
        var drain = p.StandardOutput.ReadToEndAsync();
        Assert.True(p.WaitForExit(30_000), "loom run did not stop on SIGINT");
        await drain;
        string err = await stderr;
        Assert.Equal(130, p.ExitCode);
        Assert.Contains("loom: interrupted", err);
        Assert.DoesNotContain("   at ", err);
    }
}
