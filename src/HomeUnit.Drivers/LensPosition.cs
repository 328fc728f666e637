namespace HomeUnit.Drivers;

/// <summary>Where the pan servo points the lens. <see cref="LensUp"/> is the idle position: at the ceiling.</summary>
public enum LensPosition
{
    LensUp,
    Bed,
    Room,
}
