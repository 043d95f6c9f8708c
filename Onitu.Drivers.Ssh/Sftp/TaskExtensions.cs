namespace Onitu.Drivers.Ssh.Sftp;

internal static class TaskExtensions
{
    /// <summary>
    /// Completes when <paramref name="task"/> has finished, however it finished: for waiting until requests still in
    /// flight (which may write into a buffer, or hold a handle) are done, after another failure that is the one
    /// reported.
    /// </summary>
    public static Task WhenSettled(this Task task) =>
        task.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
}
