public enum SloMoDaemonPlaceholder {}
