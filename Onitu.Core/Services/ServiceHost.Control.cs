using Onitu.Sync;

namespace Onitu.Services;

internal sealed partial class ServiceHost
{
    /// <summary>Interrupts the current scan or watch so the service scans again; false when it is not running.</summary>
    public bool RequestRescan()
    {
        lock (_lock)
        {
            if (_restart is null)
                return false;
            _restart.Cancel();
            return true;
        }
    }
}
