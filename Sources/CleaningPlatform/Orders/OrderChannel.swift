/// Where an order was booked (`platform.orders.channel`, migration 0015): the
/// statistics break orders down by it.
public enum OrderChannel {
    public static let app = "app"
    public static let miniProgram = "mini_program"
    public static let web = "web"
    public static let phone = "phone"
    public static let all = [app, miniProgram, web, phone]
}
